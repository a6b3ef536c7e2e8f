// Outlier detection on an injected clock: ejection after consecutive gateway errors, growth, return, decay, the cap.
import { describe, expect, it } from 'vitest';
import { OutlierDetector } from '../src/resilience/outlier-detector.js';
import type { OutlierDetectorOptions } from '../src/resilience/outlier-detector.js';

function detector(addresses: string[], options: OutlierDetectorOptions = {}): { d: OutlierDetector; advance(ms: number): void } {
  let t = 1_000;
  const d = new OutlierDetector({ ...options, now: () => t });
  d.setEndpoints(addresses);
  return { d, advance: (ms) => void (t += ms) };
}

function fail(d: OutlierDetector, address: string, times: number): void {
  for (let i = 0; i < times; i++) d.record(address, 'gateway-error');
}

describe('OutlierDetector', () => {
  it('ejects after 5 consecutive gateway errors; a success in between starts the count over', () => {
    const { d } = detector(['a', 'b', 'c']);
    fail(d, 'a', 4);
    d.record('a', 'success');
    fail(d, 'a', 4);
    expect(d.isEjected('a')).toBe(false);
    fail(d, 'a', 1);
    expect(d.isEjected('a')).toBe(true);
    expect(d.isEjected('b')).toBe(false);
  });

  it('returns an endpoint on its own after base x ejections, growing per ejection up to the cap', () => {
    const { d, advance } = detector(['a', 'b'], { baseEjectionMs: 30_000, maxEjectionMs: 75_000, ejectionDecayMs: 1_000_000 });
    const ejectionLength = (): number => {
      fail(d, 'a', 5);
      let ms = 0;
      while (d.isEjected('a')) {
        advance(1_000);
        ms += 1_000;
      }
      return ms;
    };
    expect([ejectionLength(), ejectionLength(), ejectionLength(), ejectionLength()]).toEqual([30_000, 60_000, 75_000, 75_000]);
    expect(d.snapshot().find((s) => s.address === 'a')).toEqual({ address: 'a', ejected: false, ejections: 4, consecutiveErrors: 0, until: undefined });
  });

  it('forgets ejections after a healthy period', () => {
    const { d, advance } = detector(['a', 'b'], { baseEjectionMs: 10_000, ejectionDecayMs: 60_000 });
    fail(d, 'a', 5);
    advance(10_000);
    fail(d, 'a', 5);
    expect(d.snapshot().find((s) => s.address === 'a')?.ejections).toBe(2);
    advance(20_000 + 59_999);
    expect(d.snapshot().find((s) => s.address === 'a')?.ejections).toBe(2);
    advance(1);
    expect(d.snapshot().find((s) => s.address === 'a')?.ejections).toBe(1);
    advance(60_000);
    fail(d, 'a', 5);
    // Back to the base time, since the count had decayed to zero.
    expect(d.snapshot().find((s) => s.address === 'a')?.until).toBeDefined();
    advance(10_000);
    expect(d.isEjected('a')).toBe(false);
  });

  it('ignores answers that arrive while ejected', () => {
    const { d, advance } = detector(['a', 'b'], { baseEjectionMs: 10_000 });
    fail(d, 'a', 5);
    fail(d, 'a', 20);
    d.record('a', 'success');
    expect(d.snapshot().find((s) => s.address === 'a')).toMatchObject({ ejected: true, ejections: 1, consecutiveErrors: 0, until: 11_000 });
    advance(10_000);
    expect(d.isEjected('a')).toBe(false);
  });

  it('never ejects more than maxEjectionPercent, and ejects the next one once there is room', () => {
    const { d, advance } = detector(['a', 'b', 'c', 'd'], { maxEjectionPercent: 50, baseEjectionMs: 10_000 });
    fail(d, 'a', 5);
    advance(1_000);
    fail(d, 'b', 5);
    fail(d, 'c', 5);
    expect(['a', 'b', 'c', 'd'].filter((x) => d.isEjected(x))).toEqual(['a', 'b']);
    // c keeps its error count; its next error after a returns ejects it.
    expect(d.snapshot().find((s) => s.address === 'c')?.consecutiveErrors).toBe(5);
    advance(9_000);
    expect(d.isEjected('a')).toBe(false);
    fail(d, 'c', 1);
    expect(['a', 'b', 'c', 'd'].filter((x) => d.isEjected(x))).toEqual(['b', 'c']);
  });

  it('always keeps one endpoint in, but allows one ejection of two even at a low percentage', () => {
    const single = detector(['only']).d;
    fail(single, 'only', 50);
    expect(single.isEjected('only')).toBe(false);

    const { d } = detector(['a', 'b'], { maxEjectionPercent: 10 });
    fail(d, 'a', 5);
    fail(d, 'b', 5);
    expect([d.isEjected('a'), d.isEjected('b')]).toEqual([true, false]);
  });

  it('counts only current endpoints toward the cap and keeps an ejection across a discovery flap', () => {
    const { d, advance } = detector(['a', 'b', 'c', 'd'], { baseEjectionMs: 10_000 });
    fail(d, 'a', 5);
    d.setEndpoints(['b', 'c']);
    expect(d.snapshot().map((s) => s.address).sort()).toEqual(['a', 'b', 'c']);
    d.setEndpoints(['a', 'b', 'c']);
    expect(d.isEjected('a')).toBe(true);
    // 1 of 3 ejected is the 50% limit for 3, so b stays in.
    fail(d, 'b', 5);
    expect(d.isEjected('b')).toBe(false);
    advance(10_000);
    d.setEndpoints(['b', 'c']);
    expect(d.snapshot().map((s) => s.address).sort()).toEqual(['b', 'c']);
  });
});
