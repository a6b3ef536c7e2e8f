// Circuit breaker on an injected clock: opening, one probe in half-open, growing open time, a lost probe.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CircuitBreaker } from '../src/resilience/circuit-breaker.js';
import type { CircuitBreakerOptions } from '../src/resilience/circuit-breaker.js';

function breaker(options: CircuitBreakerOptions = {}): { b: CircuitBreaker; advance(ms: number): void } {
  let t = 0;
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000, maxOpenMs: 3_000, ...options, now: () => t });
  return { b, advance: (ms) => void (t += ms) };
}

function trip(b: CircuitBreaker, failures = 3): void {
  for (let i = 0; i < failures; i++) b.onFailure();
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures; a success resets the count', () => {
    const { b } = breaker();
    trip(b, 2);
    b.onSuccess();
    trip(b, 2);
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: false });
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 1_000 });
  });

  it('refuses while open with a shrinking retry-after, then goes half-open', () => {
    const { b, advance } = breaker();
    trip(b);
    advance(400);
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 600 });
    advance(600);
    expect(b.state).toBe('half-open');
  });

  it('concurrent callers in half-open: exactly one gets through', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 20 }), (callers, gaps) => {
        const { b, advance } = breaker({ probeTimeoutMs: 10_000 });
        trip(b);
        advance(1_000);
        let through = 0;
        for (let i = 0; i < callers; i++) {
          advance(gaps[i] ?? 0);
          const admission = b.tryAcquire();
          if (admission.allowed) {
            expect(admission.probe).toBe(true);
            through++;
          } else {
            expect(admission.retryAfterMs).toBeGreaterThan(0);
          }
        }
        expect(through).toBe(1);
        expect(b.state).toBe('half-open');
      }),
    );
  });

  it('closes on probe success and forgets the longer open time', () => {
    const { b, advance } = breaker();
    trip(b);
    advance(1_000);
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: true });
    b.onFailure();
    expect(b.snapshot()).toMatchObject({ state: 'open', openDurationMs: 2_000, retryAfterMs: 2_000, opens: 2 });
    advance(2_000);
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: true });
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: false });
    trip(b);
    expect(b.snapshot()).toMatchObject({ state: 'open', openDurationMs: 1_000 });
  });

  it('grows the open time per failed probe up to the cap', () => {
    const { b, advance } = breaker();
    trip(b);
    const openTimes: number[] = [];
    for (let i = 0; i < 4; i++) {
      openTimes.push(b.snapshot().retryAfterMs);
      advance(openTimes[i] ?? 0);
      expect(b.tryAcquire()).toEqual({ allowed: true, probe: true });
      b.onFailure();
    }
    expect(openTimes).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it('ignores stragglers from before the trip while open', () => {
    const { b, advance } = breaker();
    trip(b);
    b.onSuccess();
    b.onFailure();
    expect(b.snapshot()).toMatchObject({ state: 'open', retryAfterMs: 1_000, opens: 1 });
    advance(1_000);
    expect(b.state).toBe('half-open');
  });

  it('admits another probe when the first never reports', () => {
    const { b, advance } = breaker({ probeTimeoutMs: 5_000 });
    trip(b);
    advance(1_000);
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: true });
    advance(4_999);
    expect(b.tryAcquire().allowed).toBe(false);
    advance(1);
    expect(b.tryAcquire()).toEqual({ allowed: true, probe: true });
    expect(b.tryAcquire().allowed).toBe(false);
  });
});
