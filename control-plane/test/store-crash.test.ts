// The crash test: a child commits and is SIGKILLed at random; every acknowledged revision must survive reopening.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { ADMIN, recordingLogger, route, StoreFixture } from './fixtures/store-helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/store-crash-child.mjs', import.meta.url));
const SRC = fileURLToPath(new URL('../src/store/', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/store/', import.meta.url));
const ITERATIONS = 30;

interface Ack {
  rev: number;
  puts: Array<[string, string]>;
  deletes: string[];
}

const fixture = new StoreFixture();
const children = new Set<ChildProcess>();

// The child runs the compiled store: a build older than the source would test the wrong code.
beforeAll(async () => {
  for (const name of await readdir(SRC)) {
    const built = await stat(`${DIST}${name.replace(/\.ts$/, '.js')}`).catch(() => undefined);
    if (!built || built.mtimeMs < (await stat(`${SRC}${name}`)).mtimeMs) {
      throw new Error(`control-plane/dist/store/${name.replace(/\.ts$/, '.js')} is missing or older than its source: run \`npx tsc -b control-plane\` first`);
    }
  }
});

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await fixture.cleanup();
});

// Starts the child, waits until its store is open, lets it commit for a random 5-150 ms, then kills it.
async function runAndKill(dir: string): Promise<{ start: number; acks: Ack[] }> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let errors = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('\n')) resolve();
    };
    child.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`crash child exited before it was ready: ${errors}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 145));
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
  expect(errors).toBe('');
  // Only complete lines: a line cut by the kill is not an acknowledgement anyone saw.
  const lines = out.split('\n').slice(0, -1);
  const [ready, ...acked] = lines;
  const start = Number(ready?.split(' ')[1]);
  return { start, acks: acked.map((line) => JSON.parse(line) as Ack) };
}

it(`never loses an acknowledged commit when the writer is SIGKILLed (${ITERATIONS} crashes)`, async () => {
  const dir = await fixture.dir();
  // The spec (seq) of every key in the verified state, carried from one crash to the next.
  let model = new Map<string, string>();
  let acknowledged = 0;
  let cut = 0;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const { start, acks } = await runAndKill(dir);
    const logger = recordingLogger();
    const store = await fixture.open(dir, { logger });
    if (store.recovery.truncatedBytes > 0) cut++;
    // Each child continues from the revision the store had, so a child's acks are consecutive.
    expect(acks.map((a) => a.rev)).toEqual(acks.map((_, i) => start + i + 1));
    const lastAcked = acks.at(-1)?.rev ?? start;
    // At most one record can be durable and not acknowledged: the one in flight at the kill.
    expect([lastAcked, lastAcked + 1]).toContain(store.revision);
    const history = new Map(store.history().map((h) => [h.revision, h]));
    for (const ack of acks) {
      expect(history.get(ack.rev)?.summary.map((s) => s.key)).toEqual([...ack.puts.map(([key]) => key), ...ack.deletes]);
      for (const [key, seq] of ack.puts) model.set(key, seq);
      for (const key of ack.deletes) model.delete(key);
    }
    const folded = store.stateAt(lastAcked);
    if (!folded.ok) throw new Error(folded.error.message);
    const seqs = new Map([...folded.value].filter(([key]) => key.startsWith('HTTPRoute/crash/')).map(([key, r]) => [key, (r.spec as { seq: string }).seq]));
    expect(seqs).toEqual(model);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
    const next = await store.commit([{ op: 'put', resource: route(`after-${iteration}`) }], ADMIN);
    expect(next.ok && next.value.revision).toBe(store.revision);
    acknowledged += acks.length;
    // What the in-flight record did (if it survived) is part of the state the next child builds on.
    model = new Map([...store.list('HTTPRoute', 'crash')].map((r) => [`HTTPRoute/crash/${r.metadata.name}`, (r.spec as { seq: string }).seq]));
    await fixture.close(store);
  }
  // Tiny runs would make this test pass without testing anything.
  expect(acknowledged).toBeGreaterThan(ITERATIONS * 3);
  process.stderr.write(`store crash test: ${ITERATIONS} kills, ${acknowledged} acknowledged commits verified, ${cut} torn tails cut\n`);
}, 60_000);
