// Token buckets on an injected clock: the rate bound as a property, Retry-After, per-key overrides and the LRU bound.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KeyedTokenBuckets, TokenBucket } from '../src/resilience/token-bucket.js';

function clock(start = 0): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('TokenBucket', () => {
  it('never hands out more than burst + rate * elapsed tokens', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 500 }), n: fc.integer({ min: 1, max: 5 }) }), { maxLength: 200 }),
        (ratePerSecond, burst, ops) => {
          const c = clock(1_000);
          const bucket = new TokenBucket({ ratePerSecond, burst, now: c.now });
          let taken = 0;
          let elapsed = 0;
          for (const { dt, n } of ops) {
            c.advance(dt);
            elapsed += dt;
            if (bucket.tryTake(n)) taken += n;
            expect(taken).toBeLessThanOrEqual(burst + (ratePerSecond * elapsed) / 1000 + 1e-6);
          }
        },
      ),
    );
  });

  it('retryAfterMs is when the tokens are really there', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), (ratePerSecond, burst, n) => {
        fc.pre(n <= burst);
        const c = clock();
        const bucket = new TokenBucket({ ratePerSecond, burst, now: c.now });
        while (bucket.tryTake(1));
        const wait = bucket.retryAfterMs(n);
        expect(wait).toBeGreaterThan(0);
        c.advance(wait);
        expect(bucket.tryTake(n)).toBe(true);
      }),
    );
  });

  it('refills continuously and caps at burst', () => {
    const c = clock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, now: c.now });
    expect([1, 2, 3, 4, 5, 6].map(() => bucket.tryTake())).toEqual([true, true, true, true, true, false]);
    expect(bucket.retryAfterMs()).toBe(100);
    c.advance(99);
    expect(bucket.tryTake()).toBe(false);
    c.advance(1);
    expect(bucket.tryTake()).toBe(true);
    c.advance(60_000);
    expect(bucket.available()).toBe(5);
    expect(bucket.retryAfterMs(6)).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps earned tokens, clamped, when the limits change live', () => {
    const c = clock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 10, now: c.now });
    bucket.setLimits({ ratePerSecond: 100, burst: 3 });
    expect(bucket.available()).toBe(3);
    expect(bucket.tryTake(3)).toBe(true);
    c.advance(10);
    expect(bucket.available()).toBeCloseTo(1);
  });

  it('rejects nonsense limits', () => {
    expect(() => new TokenBucket({ ratePerSecond: -1, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })).toThrow(/burst/);
  });
});

describe('KeyedTokenBuckets', () => {
  it('limits each caller separately and honours overrides', () => {
    const c = clock();
    const buckets = new KeyedTokenBuckets({ defaults: { ratePerSecond: 1, burst: 2 }, overrides: new Map([['spiffe://vip', { ratePerSecond: 1, burst: 4 }]]), now: c.now });
    const take = (key: string, times: number): boolean[] => Array.from({ length: times }, () => buckets.tryTake(key));
    expect(take('spiffe://a', 3)).toEqual([true, true, false]);
    expect(take('spiffe://b', 3)).toEqual([true, true, false]);
    expect(take('spiffe://vip', 5)).toEqual([true, true, true, true, false]);
    expect(buckets.retryAfterMs('spiffe://a')).toBe(1000);
  });

  it('forgets the least recently used caller beyond maxKeys', () => {
    const c = clock();
    const buckets = new KeyedTokenBuckets({ defaults: { ratePerSecond: 1, burst: 1 }, maxKeys: 3, now: c.now });
    for (const key of ['a', 'b', 'c']) expect(buckets.tryTake(key)).toBe(true);
    expect(buckets.tryTake('a')).toBe(false); // a is now the most recently used
    expect(buckets.tryTake('d')).toBe(true); // evicts b
    expect(buckets.size).toBe(3);
    expect(buckets.tryTake('a')).toBe(false); // a kept its (empty) bucket
    expect(buckets.tryTake('b')).toBe(true); // b came back full
    expect(buckets.size).toBe(3);
  });

  it('stays bounded under many distinct callers', () => {
    const buckets = new KeyedTokenBuckets({ defaults: { ratePerSecond: 1, burst: 1 }, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) buckets.tryTake(`caller-${i}`);
    expect(buckets.size).toBe(100);
  });

  it('applies new defaults and overrides to callers already seen', () => {
    const c = clock();
    const buckets = new KeyedTokenBuckets({ defaults: { ratePerSecond: 1, burst: 5 }, now: c.now });
    expect(buckets.tryTake('a')).toBe(true);
    buckets.configure({ ratePerSecond: 1, burst: 1 }, new Map([['b', { ratePerSecond: 1, burst: 3 }]]));
    expect(buckets.tryTake('a')).toBe(true);
    expect(buckets.tryTake('a')).toBe(false);
    expect([buckets.tryTake('b'), buckets.tryTake('b'), buckets.tryTake('b'), buckets.tryTake('b')]).toEqual([true, true, true, false]);
  });
});
