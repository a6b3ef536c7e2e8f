// Join tokens: short-lived HMAC tokens, minted by meshctl for one identity, redeemed a bounded number of times.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { err, formatSpiffeId, isValidName, isValidTrustDomain, ok, type Result, type WorkloadIdentity } from '@tsmesh/proto';
import { isAdminIdentity } from '../ca/admin-identity.js';
import { createFileAtomic, ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../ca/files.js';
import { decodeToken, encodeToken, type TokenPayload } from './format.js';
import { UsageLog } from './usage-log.js';

const SECRET_BYTES = 32;
export const MIN_TOKEN_TTL_MS = 1000;
export const MAX_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
export const MAX_TOKEN_USES = 10_000;

export interface MintRequest {
  namespace: string;
  serviceAccount: string;
  ttlMs: number;
  maxUses?: number;
  trustDomain: string;
}

export interface MintedToken {
  token: string;
  tokenId: string;
  spiffeId: string;
  expiresAt: Date;
}

export type RedeemErrorKind = 'malformed' | 'forged' | 'expired' | 'exhausted';

export interface RedeemError {
  kind: RedeemErrorKind;
  message: string;
}

export interface RedeemedToken {
  tokenId: string;
  spiffeId: string;
  identity: WorkloadIdentity;
  expiresAt: Date;
  // How many times the token has been used, this redemption included (inspect: so far).
  uses: number;
  maxUses: number;
}

export interface JoinTokensOptions {
  now?: () => number;
}

export interface RedeemOptions {
  // Unix milliseconds; defaults to the clock given to open.
  now?: number;
}

const REMINT = 'mint a new one with `meshctl token create`';

function formatAgo(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export class JoinTokens {
  // Redemptions run one at a time so that a count is never checked and raised by two at once.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly secret: Buffer,
    private readonly log: UsageLog,
    private readonly clock: () => number,
  ) {}

  static async open(dataDir: string, options: JoinTokensOptions = {}): Promise<JoinTokens> {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const dir = join(dataDir, 'tokens');
    await ensurePrivateDir(dir);
    const secretPath = join(dir, 'secret');
    // Losing the race to another process is fine: then its secret is read back below.
    await createFileAtomic(secretPath, randomBytes(SECRET_BYTES), PRIVATE_FILE_MODE);
    const secret = await readFile(secretPath);
    if (secret.length !== SECRET_BYTES) throw new Error(`${secretPath} holds ${secret.length} bytes, not ${SECRET_BYTES}; remove it to make a new secret (outstanding tokens stop working)`);
    const log = await UsageLog.open(join(dir, 'uses.log'));
    return new JoinTokens(secret, log, options.now ?? Date.now);
  }

  mint(request: MintRequest): Result<MintedToken, string> {
    const { namespace, serviceAccount, ttlMs, maxUses = 1, trustDomain } = request;
    if (!isValidName(namespace)) return err(`namespace "${namespace}" is not a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters)`);
    if (!isValidName(serviceAccount)) return err(`service account "${serviceAccount}" is not a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters)`);
    if (!isValidTrustDomain(trustDomain)) return err(`trust domain "${trustDomain}" is not a valid trust domain`);
    if (!Number.isFinite(ttlMs) || ttlMs < MIN_TOKEN_TTL_MS || ttlMs > MAX_TOKEN_TTL_MS) return err(`ttl must be between 1 s and 30 days; got ${ttlMs} ms`);
    if (!Number.isSafeInteger(maxUses) || maxUses < 1 || maxUses > MAX_TOKEN_USES) return err(`max uses must be a whole number from 1 to ${MAX_TOKEN_USES}; got ${maxUses}`);
    const spiffeId = formatSpiffeId({ trustDomain, namespace, serviceAccount });
    // A join token for the admin identity would let anyone holding it run the mesh.
    if (isAdminIdentity(spiffeId, trustDomain)) return err(`${spiffeId} is the admin identity; no join token can be minted for it`);
    const payload: TokenPayload = { jti: randomBytes(16).toString('hex'), ns: namespace, sa: serviceAccount, td: trustDomain, exp: Math.floor(this.clock() + ttlMs), max: maxUses };
    return ok({ token: encodeToken(payload, this.secret), tokenId: payload.jti, spiffeId, expiresAt: new Date(payload.exp) });
  }

  // Everything redeem checks, without using the token up.
  inspect(token: string, options: RedeemOptions = {}): Result<RedeemedToken, RedeemError> {
    const decoded = decodeToken(token, this.secret);
    if (!decoded.ok) return decoded;
    const { payload } = decoded;
    const now = options.now ?? this.clock();
    if (now >= payload.exp) {
      return err({ kind: 'expired', message: `the join token expired at ${new Date(payload.exp).toISOString()} (${formatAgo(now - payload.exp)} ago); ${REMINT}` });
    }
    const uses = this.log.uses(payload.jti);
    if (uses >= payload.max) {
      return err({ kind: 'exhausted', message: `the join token ${payload.jti} has been used ${uses} of ${payload.max} times; ${REMINT}` });
    }
    const identity = { trustDomain: payload.td, namespace: payload.ns, serviceAccount: payload.sa };
    return ok({ tokenId: payload.jti, spiffeId: formatSpiffeId(identity), identity, expiresAt: new Date(payload.exp), uses, maxUses: payload.max });
  }

  // Ok only once the use is on disk: a use acknowledged before a crash still counts after it.
  redeem(token: string, options: RedeemOptions = {}): Promise<Result<RedeemedToken, RedeemError>> {
    const run = this.queue.then(async (): Promise<Result<RedeemedToken, RedeemError>> => {
      const checked = this.inspect(token, options);
      if (!checked.ok) return checked;
      const at = options.now ?? this.clock();
      const uses = await this.log.append({ jti: checked.value.tokenId, at, spiffeId: checked.value.spiffeId });
      return ok({ ...checked.value, uses });
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  uses(tokenId: string): number {
    return this.log.uses(tokenId);
  }

  async close(): Promise<void> {
    await this.queue;
    await this.log.close();
  }
}
