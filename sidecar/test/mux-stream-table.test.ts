// The connection's table of streams in flight: a Map's behaviour (size, get, has, delete, values) over a plain object.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamTable } from '../src/transport/mux/stream-table.js';

describe('StreamTable', () => {
  it('behaves as a Map for any sequence of sets and deletes', () => {
    const op = fc.oneof(fc.tuple(fc.constant('set' as const), fc.integer({ min: 1, max: 0x7fffffff })), fc.tuple(fc.constant('delete' as const), fc.integer({ min: 1, max: 0x7fffffff })));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const table = new StreamTable<{ id: number }>();
        const model = new Map<number, { id: number }>();
        for (const [kind, id] of ops) {
          if (kind === 'set') {
            const value = { id };
            table.set(id, value);
            model.set(id, value);
          } else {
            table.delete(id);
            model.delete(id);
          }
          expect(table.size).toBe(model.size);
          expect(table.get(id)).toBe(model.get(id));
          expect(table.has(id)).toBe(model.has(id));
        }
        expect(new Set(table.values())).toEqual(new Set(model.values()));
      }),
    );
  });

  it('values() is a copy: deleting while going through it is safe', () => {
    const table = new StreamTable<number>();
    for (let id = 1; id < 20; id += 2) table.set(id, id);
    for (const id of table.values()) table.delete(id);
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});
