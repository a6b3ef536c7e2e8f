// Peak EWMA: bounded by what it saw, jumps to peaks at once, decays toward faster samples with time.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PeakEwma } from '../src/resilience/ewma.js';

describe('PeakEwma', () => {
  it('stays within [min, max] of the observations once warmed, and takes a peak at once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 30_000 }), rtt: fc.double({ min: 0, max: 10_000, noNaN: true }) }), { minLength: 1, maxLength: 100 }),
        (defaultRttMs, decayMs, samples) => {
          let t = 0;
          const ewma = new PeakEwma({ decayMs, defaultRttMs, now: () => t });
          expect(ewma.estimate()).toBe(defaultRttMs);
          // Warm with a peak so the default no longer counts.
          const first = Math.max(defaultRttMs, samples[0]?.rtt ?? 0);
          ewma.observe(first);
          let lo = first;
          let hi = first;
          for (const { dt, rtt } of samples) {
            t += dt;
            const before = ewma.estimate();
            ewma.observe(rtt);
            lo = Math.min(lo, rtt);
            hi = Math.max(hi, rtt);
            if (rtt > before) expect(ewma.estimate()).toBe(rtt);
            expect(ewma.estimate()).toBeGreaterThanOrEqual(lo - 1e-9);
            expect(ewma.estimate()).toBeLessThanOrEqual(hi + 1e-9);
          }
        },
      ),
    );
  });

  it('decays toward lower observations by exp(-elapsed / decay)', () => {
    let t = 0;
    const ewma = new PeakEwma({ decayMs: 10_000, defaultRttMs: 100, now: () => t });
    t = 10_000;
    ewma.observe(10);
    expect(ewma.estimate()).toBeCloseTo(100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 9);
    // Observations in the same instant do not move it.
    ewma.observe(10);
    expect(ewma.estimate()).toBeCloseTo(100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 9);
    for (let i = 0; i < 20; i++) {
      t += 10_000;
      ewma.observe(10);
    }
    expect(ewma.estimate()).toBeCloseTo(10, 3);
  });

  it('costs estimate x (pending + 1) while busy; idle, the cost decays so the endpoint gets probed', () => {
    let t = 0;
    const ewma = new PeakEwma({ decayMs: 10_000, defaultRttMs: 100, now: () => t });
    expect(ewma.cost(0)).toBe(100);
    expect(ewma.cost(3)).toBe(400);
    t = 10_000;
    expect(ewma.cost(0)).toBeCloseTo(100 * Math.exp(-1), 9);
    expect(ewma.cost(1)).toBe(200);
    expect(ewma.estimate()).toBe(100);
  });

  it('ignores nonsense samples', () => {
    const ewma = new PeakEwma({ defaultRttMs: 100, now: () => 0 });
    ewma.observe(Number.NaN);
    ewma.observe(-5);
    expect(ewma.estimate()).toBe(100);
  });
});
