// Reconnect backoff and certificate renewal timing, as pure functions under property tests.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Backoff } from '../src/discovery/backoff.js';
import { renewalDelayMs } from '../src/identity/rotation.js';

describe('Backoff (full jitter)', () => {
  it('stays within [0, min(max, base * 2^n)) for any random source', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 60_000 }), fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 40 }), (baseMs, maxMs, draws) => {
        let i = 0;
        const backoff = new Backoff({ baseMs, maxMs, random: () => draws[i++ % draws.length] ?? 0 });
        for (let n = 0; n < draws.length; n++) {
          const delay = backoff.next();
          const ceiling = Math.min(maxMs, baseMs * 2 ** n);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(Math.max(ceiling, 1));
        }
      }),
    );
  });

  it('grows exponentially until the cap and starts over after reset', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0.999 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([99, 199, 399, 799, 999]);
    backoff.reset();
    expect(backoff.next()).toBe(99);
  });
});

describe('renewalDelayMs', () => {
  it('renews between 45% and 55% of the remaining lifetime', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 30 * 86_400_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (remainingMs, draw) => {
        const now = 1_700_000_000_000;
        const delay = renewalDelayMs({ keyPem: '', certChainPem: '', trustBundlePem: [], spiffeId: '', notAfter: new Date(now + remainingMs) }, now, () => draw);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(remainingMs * 0.45));
        expect(delay).toBeLessThanOrEqual(Math.ceil(remainingMs * 0.55));
      }),
    );
  });

  it('renews at once when the certificate has already expired', () => {
    const now = Date.now();
    expect(renewalDelayMs({ keyPem: '', certChainPem: '', trustBundlePem: [], spiffeId: '', notAfter: new Date(now - 1) }, now, () => 0.5)).toBe(0);
  });
});
