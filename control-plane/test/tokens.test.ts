// Join tokens: mint and redeem, every refusal by kind and message, durable use counts, torn log lines.
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JoinTokens, type MintRequest, type MintedToken } from '../src/tokens/index.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const MINUTE = 60_000;
const request: MintRequest = { namespace: 'default', serviceAccount: 'web', ttlMs: 10 * MINUTE, trustDomain: 'cluster.local' };

let dataDir: string;
let opened: JoinTokens[] = [];
let clock = T0;

async function open(): Promise<JoinTokens> {
  const tokens = await JoinTokens.open(dataDir, { now: () => clock });
  opened.push(tokens);
  return tokens;
}

function mint(tokens: JoinTokens, overrides: Partial<MintRequest> = {}): MintedToken {
  const minted = tokens.mint({ ...request, ...overrides });
  if (!minted.ok) throw new Error(minted.error);
  return minted.value;
}

// Replaces one character with another of the same alphabet.
function flip(text: string, at: number): string {
  const c = text[at];
  return `${text.slice(0, at)}${c === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-tokens-'));
  clock = T0;
});

afterEach(async () => {
  await Promise.all(opened.map((t) => t.close()));
  opened = [];
  await rm(dataDir, { recursive: true, force: true });
});

describe('mint and redeem', () => {
  it('mints a token for one identity that redeems to it', async () => {
    const tokens = await open();
    const minted = mint(tokens);
    expect(minted.token).toMatch(/^tsmesh-jt\.v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(minted.spiffeId).toBe('spiffe://cluster.local/ns/default/sa/web');
    expect(minted.expiresAt.getTime()).toBe(T0 + 10 * MINUTE);
    const redeemed = await tokens.redeem(minted.token);
    expect(redeemed).toEqual({
      ok: true,
      value: {
        tokenId: minted.tokenId,
        spiffeId: minted.spiffeId,
        identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' },
        expiresAt: minted.expiresAt,
        uses: 1,
        maxUses: 1,
      },
    });
  });

  it('keeps the secret private and stable across opens', async () => {
    const minted = mint(await open());
    expect((await stat(join(dataDir, 'tokens', 'secret'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'tokens'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'tokens', 'secret'))).size).toBe(32);
    expect((await (await open()).redeem(minted.token)).ok).toBe(true);
  });

  const badMints: Array<[Partial<MintRequest>, string]> = [
    [{ namespace: 'Default' }, 'namespace "Default" is not a DNS-1123 label'],
    [{ serviceAccount: 'web_1' }, 'service account "web_1" is not a DNS-1123 label'],
    [{ trustDomain: 'a/b' }, 'trust domain "a/b" is not a valid trust domain'],
    [{ ttlMs: 999 }, 'ttl must be between 1 s and 30 days; got 999 ms'],
    [{ ttlMs: 31 * 24 * 60 * MINUTE }, 'ttl must be between 1 s and 30 days'],
    [{ maxUses: 0 }, 'max uses must be a whole number from 1 to 10000; got 0'],
    [{ namespace: 'mesh-system', serviceAccount: 'mesh-admin' }, 'is the admin identity; no join token can be minted for it'],
  ];

  it.each(badMints)('refuses to mint with %o', async (overrides, message) => {
    const minted = (await open()).mint({ ...request, ...overrides });
    expect(minted.ok).toBe(false);
    if (!minted.ok) expect(minted.error).toContain(message);
  });
});

describe('refusals', () => {
  it.each(['', 'hello', 'tsmesh-jt.v1.', 'tsmesh-jt.v1.abc', 'tsmesh-jt.v1.a.b.c', 'tsmesh-jt.v1.a b.c', 'Bearer tsmesh-jt.v1.a.b'])('refuses %j as malformed', async (token) => {
    const result = await (await open()).redeem(token);
    expect(result).toEqual({ ok: false, error: { kind: 'malformed', message: expect.stringMatching(/^not a tsmesh join token: /) } });
  });

  it('refuses a token with one signature character changed as forged', async () => {
    const tokens = await open();
    const { token } = mint(tokens);
    for (const at of [token.length - 1, token.length - 20]) {
      expect(await tokens.redeem(flip(token, at))).toEqual({ ok: false, error: { kind: 'forged', message: expect.stringContaining('signature is not valid') } });
    }
  });

  it('refuses a token with one payload character changed as forged', async () => {
    const tokens = await open();
    const { token } = mint(tokens);
    expect(await tokens.redeem(flip(token, 'tsmesh-jt.v1.'.length + 10))).toMatchObject({ ok: false, error: { kind: 'forged' } });
  });

  it('refuses a token minted with another secret as forged', async () => {
    const { token } = mint(await open());
    const otherDir = await mkdtemp(join(tmpdir(), 'tsmesh-tokens-other-'));
    try {
      const other = await JoinTokens.open(otherDir);
      opened.push(other);
      expect((await other.redeem(token)).ok).toBe(false);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('refuses an expired token, saying when it expired', async () => {
    const tokens = await open();
    const { token } = mint(tokens);
    clock = T0 + 10 * MINUTE - 1;
    expect(tokens.inspect(token).ok).toBe(true);
    clock = T0 + 15 * MINUTE;
    expect(await tokens.redeem(token)).toEqual({
      ok: false,
      error: { kind: 'expired', message: 'the join token expired at 2030-01-01T00:10:00.000Z (5 min ago); mint a new one with `meshctl token create`' },
    });
    expect((await tokens.redeem(token, { now: T0 })).ok).toBe(true);
  });

  it('refuses a token used up to its limit', async () => {
    const tokens = await open();
    const minted = mint(tokens, { maxUses: 2 });
    expect(await tokens.redeem(minted.token)).toMatchObject({ ok: true, value: { uses: 1, maxUses: 2 } });
    expect(await tokens.redeem(minted.token)).toMatchObject({ ok: true, value: { uses: 2, maxUses: 2 } });
    expect(await tokens.redeem(minted.token)).toEqual({
      ok: false,
      error: { kind: 'exhausted', message: `the join token ${minted.tokenId} has been used 2 of 2 times; mint a new one with \`meshctl token create\`` },
    });
  });

  it('lets exactly one of many concurrent redemptions of a single-use token win', async () => {
    const tokens = await open();
    const { token } = mint(tokens);
    const results = await Promise.all(Array.from({ length: 8 }, () => tokens.redeem(token)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.error.kind === 'exhausted')).toHaveLength(7);
  });
});

describe('the usage log', () => {
  it('keeps use counts across a restart', async () => {
    const first = await open();
    const minted = mint(first, { maxUses: 2 });
    expect((await first.redeem(minted.token)).ok).toBe(true);
    await first.close();
    opened = opened.filter((t) => t !== first);
    const second = await open();
    expect(second.uses(minted.tokenId)).toBe(1);
    expect((await second.redeem(minted.token)).ok).toBe(true);
    expect((await second.redeem(minted.token)).ok).toBe(false);
    const lines = (await readFile(join(dataDir, 'tokens', 'uses.log'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { jti: string }).jti)).toEqual([minted.tokenId, minted.tokenId]);
  });

  it('ignores and cuts a torn last line, and appends cleanly after it', async () => {
    const first = await open();
    const minted = mint(first, { maxUses: 3 });
    expect((await first.redeem(minted.token)).ok).toBe(true);
    await first.close();
    opened = [];
    const log = join(dataDir, 'tokens', 'uses.log');
    await appendFile(log, `{"jti":"${minted.tokenId}","at":17`);
    const second = await open();
    expect(second.uses(minted.tokenId)).toBe(1);
    expect((await second.redeem(minted.token)).ok).toBe(true);
    await second.close();
    opened = [];
    expect((await open()).uses(minted.tokenId)).toBe(2);
    expect((await readFile(log, 'utf8')).split('\n').filter(Boolean).every((l) => JSON.parse(l) !== undefined)).toBe(true);
  });

  it('refuses a log damaged before its last line', async () => {
    await open().then((t) => t.close());
    opened = [];
    await writeFile(join(dataDir, 'tokens', 'uses.log'), 'garbage\n{"jti":"x","at":1,"spiffeId":"s"}\n');
    await expect(JoinTokens.open(dataDir)).rejects.toThrow(/uses\.log line 1 is not a usage record/);
  });
});
