// Cancellation against the AbortController it stands in for: the same listener calls for any sequence of operations.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cancellation } from '../src/pipeline/cancellation.js';

type Op = { op: 'add'; listener: number } | { op: 'remove'; listener: number } | { op: 'cancel'; reason: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), listener: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('remove' as const), listener: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('cancel' as const), reason: fc.string({ maxLength: 3 }) }),
);

// Runs ops on one signal and returns what the listeners saw, in order, and the final state.
function run(ops: Op[], make: () => { signal: { aborted: boolean; reason: unknown; addEventListener(t: 'abort', l: () => void): void; removeEventListener(t: 'abort', l: () => void): void }; cancel(reason: string): void }) {
  const target = make();
  const calls: string[] = [];
  const listeners = [0, 1, 2, 3].map((n) => () => calls.push(`${n}:${String(target.signal.reason)}`));
  for (const op of ops) {
    if (op.op === 'add') target.signal.addEventListener('abort', listeners[op.listener] as () => void);
    else if (op.op === 'remove') target.signal.removeEventListener('abort', listeners[op.listener] as () => void);
    else target.cancel(op.reason);
  }
  return { calls, aborted: target.signal.aborted, reason: target.signal.reason };
}

describe('Cancellation', () => {
  it('calls the same listeners, once each, with the same reason as an AbortController would', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
        const ours = run(ops, () => {
          const c = new Cancellation();
          return { signal: c, cancel: (reason) => c.cancel(reason) };
        });
        const node = run(ops, () => {
          const c = new AbortController();
          return { signal: c.signal, cancel: (reason) => c.abort(reason) };
        });
        expect(ours).toEqual(node);
      }),
      { numRuns: 500 },
    );
  });

  it('runs every listener even when one throws, then throws the first error', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    c.addEventListener('abort', () => {
      throw new Error('first');
    });
    c.addEventListener('abort', () => seen.push('second ran'));
    expect(() => c.cancel('why')).toThrow('first');
    expect(seen).toEqual(['second ran']);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe('why');
  });
});
