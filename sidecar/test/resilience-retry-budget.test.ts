// Retry budget and retry backoff: the window bound as a property, and ~1.2x the load under a total outage.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RetryBudget } from '../src/resilience/retry-budget.js';
import { retryDelayMs } from '../src/resilience/retry-backoff.js';

describe('RetryBudget', () => {
  it('allows at most percent% of requests + floor * ttl retries in the ttl window ending at each retry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(1_000, 2_000, 10_000, 3_333),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 1_500 }), retry: fc.boolean(), count: fc.integer({ min: 1, max: 10 }) }), { maxLength: 150 }),
        (retryPercent, minRetriesPerSecond, ttlMs, buckets, ops) => {
          let t = 5_000;
          const budget = new RetryBudget({ retryPercent, minRetriesPerSecond, ttlMs, buckets, now: () => t });
          const requests: number[] = [];
          const retries: number[] = [];
          for (const op of ops) {
            t += op.dt;
            for (let k = 0; k < op.count; k++) {
              if (!op.retry) {
                budget.recordRequest();
                requests.push(t);
              } else if (budget.tryWithdraw()) {
                retries.push(t);
                const inWindow = (times: number[]): number => times.filter((x) => x > t - ttlMs && x <= t).length;
                expect(inWindow(retries) * 100).toBeLessThanOrEqual(retryPercent * inWindow(requests) + (minRetriesPerSecond * ttlMs) / 10);
              }
            }
          }
        },
      ),
    );
  });

  it('sends about 1.2x the requests under a total outage, not 3x', () => {
    let t = 0;
    const budget = new RetryBudget({ retryPercent: 20, minRetriesPerSecond: 10, ttlMs: 10_000, now: () => t });
    const maxAttempts = 3;
    let requests = 0;
    let attempts = 0;
    // 1,000 requests per second for a minute, every attempt fails.
    for (let ms = 0; ms < 60_000; ms++) {
      t = ms;
      budget.recordRequest();
      requests++;
      attempts++;
      for (let retry = 1; retry < maxAttempts && budget.tryWithdraw(); retry++) attempts++;
    }
    const ratio = attempts / requests;
    expect(ratio).toBeLessThanOrEqual(1.21 + 0.01);
    expect(ratio).toBeGreaterThan(1.15);
  });

  it('lets the floor through with no traffic, then recovers after the ttl', () => {
    let t = 0;
    const budget = new RetryBudget({ retryPercent: 20, minRetriesPerSecond: 1, ttlMs: 5_000, buckets: 5, now: () => t });
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    expect(granted).toBe(5);
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 5, available: 0 });
    t = 5_999; // still within ttl + one bucket of the withdrawals
    expect(budget.tryWithdraw()).toBe(false);
    t = 6_000;
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('earns one retry per five requests at 20%', () => {
    let t = 0;
    const budget = new RetryBudget({ retryPercent: 20, minRetriesPerSecond: 0, now: () => t });
    for (let i = 0; i < 4; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(false);
    budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    t = 20_000; // the requests have expired
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(budget.snapshot()).toEqual({ requests: 10, retries: 0, available: 2 });
  });
});

describe('retryDelayMs (full jitter)', () => {
  it('stays within [0, min(max, base * 2^attempt))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, baseMs, maxMs, draw) => {
        const delay = retryDelayMs(attempt, baseMs, maxMs, () => draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.max(1, Math.min(maxMs, baseMs * 2 ** attempt)));
      }),
    );
  });

  it('doubles its ceiling per retry up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(n, 25, 250, () => 0.999))).toEqual([24, 49, 99, 199, 249, 249]);
    expect(retryDelayMs(3, 25, 250, () => 0)).toBe(0);
  });
});
