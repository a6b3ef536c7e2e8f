// Config store semantics: commits, no-ops, all-or-nothing batches, conflicts, history, stateAt, rollback, reopen.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { applyRecord, encodeHeader, encodeRecord, planCommit, type Change, type State } from '../src/store/index.js';
import { ADMIN, meshConfig, plain, recordingLogger, route, StoreFixture } from './fixtures/store-helpers.js';

const T0 = Date.parse('2025-01-02T03:04:05.000Z');
const fixture = new StoreFixture();

afterEach(async () => {
  await fixture.cleanup();
});

const put = (resource: ReturnType<typeof route>): Change => ({ op: 'put', resource });
const del = (name: string, namespace = 'shop'): Change => ({ op: 'delete', kind: 'HTTPRoute', namespace, name });

describe('commit', () => {
  it('stores resources under kind/namespace/name with the store-owned metadata set', async () => {
    let now = T0;
    const store = await fixture.open(await fixture.dir(), { now: () => now });
    const first = await store.commit([put(route('web')), put(meshConfig())], ADMIN);
    expect(first).toEqual({ ok: true, value: { revision: 1, changed: [{ key: 'HTTPRoute/shop/web', action: 'created' }, { key: 'MeshConfig//default', action: 'created' }] } });
    now += 1000;
    const second = await store.commit([put(route('web', { weight: 2 }))], ADMIN);
    expect(second).toEqual({ ok: true, value: { revision: 2, changed: [{ key: 'HTTPRoute/shop/web', action: 'configured' }] } });
    expect(store.get('HTTPRoute', 'shop', 'web')?.metadata).toEqual({ name: 'web', namespace: 'shop', resourceVersion: '2', generation: 2, creationTimestamp: '2025-01-02T03:04:05.000Z' });
    expect(store.get('MeshConfig', '', 'default')?.metadata).toEqual({ name: 'default', resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-02T03:04:05.000Z' });
    expect(store.revision).toBe(2);
  });

  it('lists sorted by key, filtered by kind and namespace, and hands out frozen objects', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('b')), put(route('a', {}, 'other')), put(route('a')), put(meshConfig())], ADMIN);
    expect(store.list().map((r) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`)).toEqual(['HTTPRoute/other/a', 'HTTPRoute/shop/a', 'HTTPRoute/shop/b', 'MeshConfig//default']);
    expect(store.list('HTTPRoute', 'shop').map((r) => r.metadata.name)).toEqual(['a', 'b']);
    expect(store.list(undefined, '').map((r) => r.kind)).toEqual(['MeshConfig']);
    const web = store.get('HTTPRoute', 'shop', 'a');
    expect(() => {
      if (web) web.spec = 'changed';
    }).toThrow(TypeError);
  });

  it('writes nothing for a batch of no-ops and reports each as unchanged', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('a')), put(route('b'))], ADMIN);
    const heard: number[] = [];
    store.onCommit((revision) => heard.push(revision));
    // Store-set fields in the input (as from `meshctl get -o yaml`) do not make it a change.
    const fetched = store.get('HTTPRoute', 'shop', 'a');
    const again = await store.commit([put(route('a')), put(route('b')), ...(fetched ? [put(structuredClone(fetched))] : [])], ADMIN);
    expect(again).toEqual({ ok: true, value: { revision: 1, changed: ['a', 'b', 'a'].map((n) => ({ key: `HTTPRoute/shop/${n}`, action: 'unchanged' })) } });
    expect(store.revision).toBe(1);
    expect(store.history()).toHaveLength(1);
    expect(heard).toEqual([]);
    const mixed = await store.commit([put(route('a')), put(route('b', { weight: 9 }))], ADMIN);
    expect(mixed.ok && mixed.value).toEqual({ revision: 2, changed: [{ key: 'HTTPRoute/shop/a', action: 'unchanged' }, { key: 'HTTPRoute/shop/b', action: 'configured' }] });
    expect(store.get('HTTPRoute', 'shop', 'a')?.metadata.generation).toBe(1);
  });

  it('refuses the whole batch when it deletes a missing object, naming it', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('a'))], ADMIN);
    const result = await store.commit([put(route('new')), del('a'), del('ghost')], ADMIN);
    expect(result).toEqual({ ok: false, error: { kind: 'not-found', message: expect.stringContaining('HTTPRoute/shop/ghost') } });
    expect(store.revision).toBe(1);
    expect(store.get('HTTPRoute', 'shop', 'new')).toBeUndefined();
    expect(store.get('HTTPRoute', 'shop', 'a')).toBeDefined();
  });

  it('checks a carried resourceVersion against the stored one', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('a'))], ADMIN);
    const read = structuredClone(store.get('HTTPRoute', 'shop', 'a'));
    if (!read) throw new Error('not stored');
    await store.commit([put(route('a', { weight: 2 }))], ADMIN);
    const stale = await store.commit([put({ ...read, spec: { weight: 3 } })], ADMIN);
    expect(stale).toEqual({ ok: false, error: { kind: 'conflict', message: expect.stringContaining('resourceVersion 1') } });
    const fresh = await store.commit([put({ ...read, metadata: { ...read.metadata, resourceVersion: '2' }, spec: { weight: 3 } })], ADMIN);
    expect(fresh.ok).toBe(true);
    const missing = await store.commit([put({ ...route('nope'), metadata: { name: 'nope', namespace: 'shop', resourceVersion: '1' } })], ADMIN);
    expect(missing.ok || missing.error.kind).toBe('conflict');
  });

  it('gives concurrent commits distinct revisions, each durable', async () => {
    const dir = await fixture.dir();
    const store = await fixture.open(dir);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.commit([put(route(`r${i}`, { i }))], ADMIN)));
    const revisions = results.map((r) => (r.ok ? r.value.revision : -1)).sort((a, b) => a - b);
    expect(revisions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await fixture.close(store);
    const reopened = await fixture.open(dir);
    expect(reopened.list()).toHaveLength(20);
    expect(reopened.revision).toBe(20);
  });

  it('tells listeners the revision and changed keys, survives a throwing listener, and refuses after close', async () => {
    const store = await fixture.open(await fixture.dir());
    const heard: Array<[number, string[]]> = [];
    const off = store.onCommit((revision, keys) => heard.push([revision, keys]));
    store.onCommit(() => {
      throw new Error('listener bug');
    });
    await store.commit([put(route('a')), put(meshConfig())], ADMIN);
    await store.commit([put(route('a')), del('a')], ADMIN);
    off();
    await store.commit([put(route('z'))], ADMIN);
    expect(heard).toEqual([
      [1, ['HTTPRoute/shop/a', 'MeshConfig//default']],
      [2, ['HTTPRoute/shop/a']],
    ]);
    await fixture.close(store);
    expect(await store.commit([put(route('late'))], ADMIN)).toEqual({ ok: false, error: { kind: 'closed', message: expect.any(String) } });
  });
});

describe('history, stateAt and rollback', () => {
  it('keeps who changed what, newest first', async () => {
    const store = await fixture.open(await fixture.dir(), { now: () => T0 });
    await store.commit([put(route('a'))], ADMIN);
    await store.commit([del('a')], { actor: 'bob' });
    expect(store.history()).toEqual([
      { revision: 2, time: '2025-01-02T03:04:05.000Z', actor: 'bob', op: 'commit', summary: [{ key: 'HTTPRoute/shop/a', action: 'deleted' }] },
      { revision: 1, time: '2025-01-02T03:04:05.000Z', actor: ADMIN.actor, message: ADMIN.message, op: 'commit', summary: [{ key: 'HTTPRoute/shop/a', action: 'created' }] },
    ]);
    expect(store.history({ limit: 1 }).map((h) => h.revision)).toEqual([2]);
  });

  it('folds the state at any revision and refuses unknown ones', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('a'))], ADMIN);
    await store.commit([put(route('a', { weight: 5 })), put(route('b'))], ADMIN);
    await store.commit([del('a')], ADMIN);
    const at = (revision: number): unknown => {
      const state = store.stateAt(revision);
      return state.ok ? [...state.value.keys()].sort().map((k) => [k, state.value.get(k)?.spec]) : state.error.kind;
    };
    expect(at(0)).toEqual([]);
    expect(at(1)).toEqual([['HTTPRoute/shop/a', { weight: 1 }]]);
    expect(at(2)).toEqual([['HTTPRoute/shop/a', { weight: 5 }], ['HTTPRoute/shop/b', { weight: 1 }]]);
    expect(at(3)).toEqual([['HTTPRoute/shop/b', { weight: 1 }]]);
    expect(at(4)).toBe('unknown-revision');
    expect(at(-1)).toBe('unknown-revision');
  });

  it('rolls back as a new revision and writes nothing when already there', async () => {
    const store = await fixture.open(await fixture.dir());
    await store.commit([put(route('a')), put(route('b'))], ADMIN);
    await store.commit([put(route('a', { weight: 7 })), del('b'), put(route('c'))], ADMIN);
    const back = await store.rollback(1, { actor: 'ops', message: 'bad weights' });
    expect(back).toEqual({
      ok: true,
      value: { revision: 3, changed: [{ key: 'HTTPRoute/shop/c', action: 'deleted' }, { key: 'HTTPRoute/shop/a', action: 'configured' }, { key: 'HTTPRoute/shop/b', action: 'created' }] },
    });
    expect(store.list().map((r) => [r.metadata.name, r.spec, r.metadata.resourceVersion])).toEqual([
      ['a', { weight: 1 }, '3'],
      ['b', { weight: 1 }, '3'],
    ]);
    expect(store.get('HTTPRoute', 'shop', 'a')?.metadata.generation).toBe(3);
    expect(store.history({ limit: 1 })[0]).toMatchObject({ revision: 3, op: 'rollback', rollbackTo: 1, actor: 'ops', message: 'bad weights' });
    expect(await store.rollback(3, ADMIN)).toEqual({ ok: true, value: { revision: 3, changed: [] } });
    expect(await store.rollback(9, ADMIN)).toEqual({ ok: false, error: { kind: 'unknown-revision', message: expect.any(String) } });
    expect(store.revision).toBe(3);
  });

  it('restores everything on reopen: state, revision, history and old states', async () => {
    const dir = await fixture.dir();
    const store = await fixture.open(dir, { snapshotEvery: 2 });
    await store.commit([put(route('a')), put(meshConfig())], ADMIN);
    await store.commit([put(route('a', { weight: 2 }))], ADMIN);
    await store.commit([del('a')], ADMIN);
    await store.rollback(2, ADMIN);
    const before = { list: plain(store.list()), history: store.history(), at1: store.stateAt(1) };
    await fixture.close(store);
    const reopened = await fixture.open(dir, { snapshotEvery: 2 });
    expect(reopened.revision).toBe(4);
    expect(plain(reopened.list())).toEqual(before.list);
    expect(reopened.history()).toEqual(before.history);
    expect(reopened.stateAt(1)).toEqual(before.at1);
    expect(reopened.recovery).toEqual({ truncatedBytes: 0 });
  });
});

describe('snapshots', () => {
  type Op = { put: string; weight: number } | { del: string };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ put: fc.constantFrom('a', 'b', 'c', 'd'), weight: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ del: fc.constantFrom('a', 'b', 'c', 'd') }),
  );
  const toChange = (o: Op): Change => ('put' in o ? put(route(o.put, { weight: o.weight })) : del(o.del));

  it('folding from snapshots taken at random points equals folding the whole log', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 4 }), fc.nat(14), async (batches, every, reopenAt) => {
        const [withDir, withoutDir] = [await fixture.dir(), await fixture.dir()];
        let withSnapshots = await fixture.open(withDir, { snapshotEvery: every, now: () => T0 });
        const without = await fixture.open(withoutDir, { snapshotEvery: 1_000_000, now: () => T0 });
        for (const [index, batch] of batches.entries()) {
          if (index === reopenAt) {
            await fixture.close(withSnapshots);
            withSnapshots = await fixture.open(withDir, { snapshotEvery: every, now: () => T0 });
          }
          const [a, b] = [await withSnapshots.commit(batch.map(toChange), ADMIN), await without.commit(batch.map(toChange), ADMIN)];
          expect(a).toEqual(b);
        }
        await fixture.close(withSnapshots);
        const logger = recordingLogger();
        const reopened = await fixture.open(withDir, { snapshotEvery: every, logger });
        const opened = logger.lines.find((line) => line.message === 'config store opened');
        // The last snapshot is at most `every` revisions back, so start-up replays fewer records than that.
        expect(opened?.fields?.['replayed']).toBeLessThan(every);
        expect(plain(reopened.list())).toEqual(plain(without.list()));
        expect(reopened.history()).toEqual(without.history());
        for (let revision = 0; revision <= without.revision; revision++) {
          const [a, b] = [reopened.stateAt(revision), without.stateAt(revision)];
          expect(a.ok && plain(a.value.values())).toEqual(b.ok && plain(b.value.values()));
        }
        await fixture.cleanup();
      }),
      { numRuns: 25 },
    );
  });

  it('opens a 10k-record log quickly, and faster still from the snapshot the next commit writes', async () => {
    const dir = await fixture.dir();
    const state: State = new Map();
    const chunks = [encodeHeader()];
    for (let rev = 1; rev <= 10_000; rev++) {
      const plan = planCommit(state, [put(route(`r${rev % 300}`, { rev, rules: [{ match: '/api', weight: 90 }] }))], rev, new Date(T0).toISOString());
      if (!plan.ok) throw new Error(plan.error.message);
      const record = { rev, time: new Date(T0).toISOString(), actor: ADMIN.actor, op: 'commit' as const, changes: plan.value.changes };
      applyRecord(state, record);
      chunks.push(encodeRecord(record));
    }
    await writeFile(join(dir, 'changes.log'), Buffer.concat(chunks));
    let started = performance.now();
    const replayed = await fixture.open(dir);
    const fullReplayMs = performance.now() - started;
    expect(replayed.revision).toBe(10_000);
    expect(replayed.list()).toHaveLength(300);
    await replayed.commit([put(route('one-more'))], ADMIN);
    await fixture.close(replayed);
    const logger = recordingLogger();
    started = performance.now();
    const fromSnapshot = await fixture.open(dir, { logger });
    const snapshotMs = performance.now() - started;
    expect(logger.lines.find((l) => l.message === 'config store opened')?.fields).toMatchObject({ revision: 10_001, fromSnapshot: 10_001, replayed: 0 });
    expect(fromSnapshot.history()).toHaveLength(10_001);
    const old = fromSnapshot.stateAt(5_000);
    expect(old.ok && old.value.get('HTTPRoute/shop/r100')?.spec).toEqual({ rev: 4_900, rules: [{ match: '/api', weight: 90 }] });
    expect(fullReplayMs).toBeLessThan(5_000);
    expect(snapshotMs).toBeLessThan(2_000);
    process.stderr.write(`store start-up with 10k records: full replay ${fullReplayMs.toFixed(0)} ms, from snapshot ${snapshotMs.toFixed(0)} ms\n`);
  });
});
