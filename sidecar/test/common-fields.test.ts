// Common field names matched in place give exactly what slicing (and lowercasing) would.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { commonFieldNameIn, lowerFieldNameAt } from '../src/transport/common-fields.js';

const common = fc.constantFrom('host', 'content-length', 'content-type', ':status', 'traceparent', 'te', 'x-mesh-peer-identity', 'transfer-encoding');
// Common names in any case, one character off, with a control character or a non-ASCII letter in them, or anything.
const nameLike = fc.oneof(
  fc.tuple(common, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 })).map(([n, upper]) => [...n].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('')),
  fc.tuple(common, fc.nat(), fc.constantFrom('\r', '\n', 'x', 'À', '-', ':', '\u0130')).map(([n, at, c]) => { const i = at % n.length; return n.slice(0, i) + c + n.slice(i + 1); }),
  fc.string({ maxLength: 24, unit: 'binary' }),
);

describe('common field names', () => {
  it('lowerFieldNameAt is slice(0, end).toLowerCase()', () => {
    fc.assert(
      fc.property(nameLike, fc.string({ maxLength: 5 }), (name, rest) => {
        expect(lowerFieldNameAt(name + rest, name.length)).toBe(name.toLowerCase());
      }),
      { numRuns: 3_000 },
    );
  });

  it('commonFieldNameIn gives the bytes as text when they spell a common name exactly, else undefined', () => {
    const commonNames = new Set(['host', 'content-length', 'content-type', ':status', 'traceparent', 'te', 'x-mesh-peer-identity', 'transfer-encoding']);
    fc.assert(
      fc.property(fc.string({ maxLength: 5 }), nameLike, fc.string({ maxLength: 5 }), (before, name, after) => {
        const buf = Buffer.from(before + name + after, 'latin1');
        const start = Buffer.byteLength(before, 'latin1');
        const text = Buffer.from(name, 'latin1').toString('latin1');
        const found = commonFieldNameIn(buf, start, start + Buffer.byteLength(name, 'latin1'));
        if (found !== undefined) expect(found).toBe(text);
        if (commonNames.has(text)) expect(found).toBe(text);
      }),
      { numRuns: 3_000 },
    );
  });

  it('gives the common name itself, whatever the case it came in', () => {
    expect(lowerFieldNameAt('Content-Length: 5', 14)).toBe('content-length');
    expect(lowerFieldNameAt('HOST', 4)).toBe('host');
    expect(commonFieldNameIn(Buffer.from('x:status:200\n'), 1, 8)).toBe(':status');
    expect(commonFieldNameIn(Buffer.from('Host'), 0, 4)).toBeUndefined();
  });
});
