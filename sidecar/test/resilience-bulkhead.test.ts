// Bulkhead: immediate under the limit, FIFO queue up to maxPending, fail fast beyond, idempotent release, abort, timeout.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Result } from '@tsmesh/proto';
import { Bulkhead } from '../src/resilience/bulkhead.js';
import type { BulkheadRejection, Release } from '../src/resilience/bulkhead.js';

function released(result: Result<Release, BulkheadRejection>): Release {
  if (!result.ok) throw new Error(`expected admission, got ${result.error.kind}`);
  return result.value;
}

// Lets queued admissions (promise callbacks) run.
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Bulkhead', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits immediately under maxConcurrent, queues up to maxPending, then fails fast', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2, maxPending: 1 });
    const first = released(await bulkhead.acquire());
    released(await bulkhead.acquire());
    const queued = bulkhead.acquire();
    expect(await bulkhead.acquire()).toEqual({ ok: false, error: { kind: 'pending-full', message: expect.stringContaining('limit 2') } });
    expect([bulkhead.active, bulkhead.pending]).toEqual([2, 1]);
    first();
    released(await queued);
    expect([bulkhead.active, bulkhead.pending]).toEqual([2, 0]);
  });

  it('admits queued requests in FIFO order, one per release, and release is idempotent', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxPending: 10 });
    const holder = released(await bulkhead.acquire());
    const order: number[] = [];
    const releases: Release[] = [];
    for (const i of [0, 1, 2]) {
      void bulkhead.acquire().then((r) => {
        order.push(i);
        releases.push(released(r));
      });
    }
    holder();
    holder();
    holder();
    await settle();
    expect(order).toEqual([0]);
    expect([bulkhead.active, bulkhead.pending]).toEqual([1, 2]);
    releases[0]?.();
    releases[0]?.();
    await settle();
    expect(order).toEqual([0, 1]);
    releases[1]?.();
    await settle();
    expect(order).toEqual([0, 1, 2]);
    releases[2]?.();
    expect([bulkhead.active, bulkhead.pending]).toEqual([0, 0]);
  });

  it('a request that arrives while others queue does not jump the queue', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxPending: 5 });
    const holder = released(await bulkhead.acquire());
    const order: string[] = [];
    const queued = bulkhead.acquire().then((r) => (order.push('queued'), released(r)));
    holder();
    const late = bulkhead.acquire().then((r) => (order.push('late'), released(r)));
    (await queued)();
    (await late)();
    expect(order).toEqual(['queued', 'late']);
    expect(bulkhead.active).toBe(0);
  });

  it('an abort while queued gives up the place, and the slot goes to the next in line', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxPending: 5 });
    const holder = released(await bulkhead.acquire());
    const controller = new AbortController();
    const aborted = bulkhead.acquire(controller.signal);
    const next = bulkhead.acquire();
    controller.abort();
    expect(await aborted).toEqual({ ok: false, error: { kind: 'aborted', message: expect.any(String) } });
    expect(bulkhead.pending).toBe(1);
    holder();
    released(await next);
    expect(await bulkhead.acquire(AbortSignal.abort())).toMatchObject({ ok: false, error: { kind: 'aborted' } });
  });

  it('times out a queued request after pendingTimeoutMs', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxPending: 5, pendingTimeoutMs: 1_000 });
    released(await bulkhead.acquire());
    let outcome: Result<Release, BulkheadRejection> | undefined;
    void bulkhead.acquire().then((r) => (outcome = r));
    vi.advanceTimersByTime(999);
    await settle();
    expect(outcome).toBeUndefined();
    vi.advanceTimersByTime(1);
    await settle();
    expect(outcome).toEqual({ ok: false, error: { kind: 'pending-timeout', message: expect.stringContaining('1000 ms') } });
    expect(bulkhead.pending).toBe(0);
  });

  it('raising the limit live admits queued requests', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxPending: 5 });
    released(await bulkhead.acquire());
    const queued = bulkhead.acquire();
    bulkhead.setLimits({ maxConcurrent: 2, maxPending: 5 });
    released(await queued);
    expect(bulkhead.active).toBe(2);
  });

  it('never exceeds its limits and admits in arrival order, for any sequence of acquires and releases', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.array(fc.oneof(fc.constant('acquire' as const), fc.nat({ max: 10 })), { maxLength: 40 }), async (maxConcurrent, maxPending, ops) => {
        const bulkhead = new Bulkhead({ maxConcurrent, maxPending });
        const releases: Release[] = [];
        const admitted: number[] = [];
        let seq = 0;
        for (const op of ops) {
          if (op === 'acquire') {
            const id = seq++;
            void bulkhead.acquire().then((r) => {
              if (r.ok) {
                admitted.push(id);
                releases.push(r.value);
              }
            });
          } else {
            // Release an arbitrary held slot, sometimes twice.
            const release = releases[op % Math.max(1, releases.length)];
            release?.();
            if (op % 3 === 0) release?.();
          }
          await settle();
          expect(bulkhead.active).toBeLessThanOrEqual(maxConcurrent);
          expect(bulkhead.pending).toBeLessThanOrEqual(maxPending);
          expect(admitted).toEqual([...admitted].sort((a, b) => a - b));
        }
      }),
      { numRuns: 50 },
    );
  });
});
