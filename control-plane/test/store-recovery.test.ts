// Config store recovery: torn tails are cut and reported, damage elsewhere refuses to open, one owner per directory.
import { spawn } from 'node:child_process';
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigStore, StoreOpenError } from '../src/store/index.js';
import { ADMIN, plain, recordingLogger, recordSpans, route, StoreFixture } from './fixtures/store-helpers.js';

const fixture = new StoreFixture();

afterEach(async () => {
  await fixture.cleanup();
});

// Three revisions; the third is the record the tail tests damage.
async function threeCommits(): Promise<{ dir: string; at2: unknown[]; spans: Array<[number, number]> }> {
  const dir = await fixture.dir();
  const store = await fixture.open(dir);
  await store.commit([{ op: 'put', resource: route('a') }], ADMIN);
  await store.commit([{ op: 'put', resource: route('b') }], ADMIN);
  await store.commit([{ op: 'put', resource: route('a', { weight: 3 }) }, { op: 'delete', kind: 'HTTPRoute', namespace: 'shop', name: 'b' }], ADMIN);
  await fixture.close(store);
  const spans = await recordSpans(dir);
  expect(spans).toHaveLength(3);
  const reopened = await fixture.open(dir);
  const at2 = reopened.stateAt(2);
  await fixture.close(reopened);
  return { dir, at2: at2.ok ? plain(at2.value.values()) : [], spans };
}

async function flipByte(dir: string, offset: number): Promise<void> {
  const path = join(dir, 'changes.log');
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x5a;
  await writeFile(path, bytes);
}

async function expectRecoveredTo2(dir: string, truncatedBytes: number, at2: unknown[]): Promise<ConfigStore> {
  const logger = recordingLogger();
  const store = await fixture.open(dir, { logger });
  expect(store.recovery).toEqual({ truncatedBytes, reason: expect.stringMatching(/^torn record at byte \d+/) });
  expect(store.revision).toBe(2);
  expect(plain(store.list())).toEqual(at2);
  expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['cut a torn write from the end of the config log']);
  // The cut is on disk, and the next record lands after the last good one.
  const next = await store.commit([{ op: 'put', resource: route('after') }], ADMIN);
  expect(next.ok && next.value.revision).toBe(3);
  await fixture.close(store);
  const again = await fixture.open(dir);
  expect(again.recovery).toEqual({ truncatedBytes: 0 });
  expect(again.revision).toBe(3);
  return again;
}

describe('torn tail', () => {
  it('cuts garbage appended after the last record', async () => {
    const { dir, spans } = await threeCommits();
    await appendFile(join(dir, 'changes.log'), Buffer.from('\x00\x00\x01\x00garbage that is no record'));
    const store = await fixture.open(dir);
    expect(store.recovery.truncatedBytes).toBe(29);
    expect(store.revision).toBe(3);
    expect((await stat(join(dir, 'changes.log'))).size).toBe(spans[2]?.[1]);
  });

  it('cuts a zero-filled block, which is what some filesystems leave after a crash', async () => {
    const { dir } = await threeCommits();
    await appendFile(join(dir, 'changes.log'), Buffer.alloc(4096));
    const store = await fixture.open(dir);
    expect(store.recovery.truncatedBytes).toBe(4096);
    expect(store.revision).toBe(3);
  });

  it('cuts the last record when it was cut in half', async () => {
    const { dir, spans, at2 } = await threeCommits();
    const [start, end] = spans[2] ?? [0, 0];
    const half = start + Math.floor((end - start) / 2);
    await truncate(join(dir, 'changes.log'), half);
    await expectRecoveredTo2(dir, half - start, at2);
  });

  it('cuts the last record when only part of its header was written', async () => {
    const { dir, spans, at2 } = await threeCommits();
    const [start] = spans[2] ?? [0];
    await truncate(join(dir, 'changes.log'), start + 5);
    await expectRecoveredTo2(dir, 5, at2);
  });

  it.each([
    ['payload', 40],
    ['checksum', 5],
    ['length', 2],
  ])('cuts the last record when a byte of its %s is flipped', async (_part, within) => {
    const { dir, spans, at2 } = await threeCommits();
    const [start, end] = spans[2] ?? [0, 0];
    await flipByte(dir, start + within);
    await expectRecoveredTo2(dir, end - start, at2);
  });
});

describe('damage before the tail', () => {
  it.each([
    ['payload', 30],
    ['checksum', 6],
    ['length', 3],
  ])('refuses to open when a byte of a middle record %s is flipped, naming the file and offset', async (_part, within) => {
    const { dir, spans } = await threeCommits();
    const [start] = spans[1] ?? [0];
    await flipByte(dir, start + within);
    const opening = ConfigStore.open(dir, { logger: recordingLogger() });
    await expect(opening).rejects.toThrow(StoreOpenError);
    await expect(opening).rejects.toThrow(`${join(dir, 'changes.log')} is damaged at byte ${start}`);
    // The refusal released the lock: the next attempt is refused for the same reason.
    await expect(ConfigStore.open(dir, { logger: recordingLogger() })).rejects.toThrow(/is damaged at byte/);
  });

  it('refuses a record whose checksum holds but whose revision is out of sequence', async () => {
    const { dir, spans } = await threeCommits();
    const copy = (await readFile(join(dir, 'changes.log'))).subarray(spans[0]?.[0], spans[0]?.[1]);
    await appendFile(join(dir, 'changes.log'), copy);
    await expect(ConfigStore.open(dir, { logger: recordingLogger() })).rejects.toThrow(/revision 1 where 4 was expected/);
  });

  it('refuses a file that is not a config log', async () => {
    const dir = await fixture.dir();
    await writeFile(join(dir, 'changes.log'), 'hello');
    await expect(ConfigStore.open(dir, { logger: recordingLogger() })).rejects.toThrow(/is not a config log/);
  });

  it('falls back to replaying the log when a snapshot is unreadable or does not match the log', async () => {
    const dir = await fixture.dir();
    const store = await fixture.open(dir, { snapshotEvery: 2 });
    for (let i = 0; i < 4; i++) await store.commit([{ op: 'put', resource: route(`r${i}`) }], ADMIN);
    const expected = plain(store.list());
    await fixture.close(store);
    await writeFile(join(dir, 'snapshot-4.json'), '{"format":"tsmesh-config-snapshot"');
    // A snapshot whose last record is not the one in the log (e.g. the log was restored from elsewhere).
    const bogus = JSON.parse(await readFile(join(dir, 'snapshot-2.json'), 'utf8')) as { logEnd: number };
    await writeFile(join(dir, 'snapshot-2.json'), JSON.stringify({ ...bogus, logEnd: bogus.logEnd + 1 }));
    const logger = recordingLogger();
    const reopened = await fixture.open(dir, { logger });
    expect(plain(reopened.list())).toEqual(expected);
    expect(reopened.history()).toHaveLength(4);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['skipping unreadable snapshot', 'skipping snapshot that does not match the log']);
  });
});

describe('directory lock', () => {
  it('refuses a second open while the first is alive, and allows one after close', async () => {
    const dir = await fixture.dir();
    const first = await fixture.open(dir);
    await expect(ConfigStore.open(dir)).rejects.toThrow(/in use by this process/);
    await fixture.close(first);
    const second = await fixture.open(dir);
    expect(second.revision).toBe(0);
  });

  it('refuses a directory locked by another live process, naming its pid', async () => {
    const dir = await fixture.dir();
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
    await expect(ConfigStore.open(dir)).rejects.toThrow(`in use by process ${process.ppid}`);
  });

  it('takes over the lock of a process that died', async () => {
    const dir = await fixture.dir();
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid;
    await new Promise((resolve) => child.on('exit', resolve));
    await writeFile(join(dir, 'LOCK'), `${pid}\n`);
    const store = await fixture.open(dir);
    expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await fixture.close(store);
    await expect(stat(join(dir, 'LOCK'))).rejects.toThrow(/ENOENT/);
  });
});
