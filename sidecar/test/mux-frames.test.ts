// tsmesh/1 wire format under property tests: header blocks round-trip or are refused, frames read back the same in any split.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oracleDecodeHeaders } from './support/mux-header-oracle.js';
import { decodeHeaders, encodeHeaderFrame, Frame, FRAME_HEADER_BYTES, frameHeader, FrameReader, HeaderBlockError, MAX_FRAME_PAYLOAD, MAX_REASON_BYTES, reasonText, textFrame } from '../src/transport/mux/frames.js';

interface ReadFrame { type: number; flags: number; id: number; payload: Buffer }

// Reads the bytes in the pieces the cuts make, as a socket would deliver them.
function readFrames(bytes: Buffer, cuts: readonly number[]): { frames: ReadFrame[]; malformed: string[] } {
  const frames: ReadFrame[] = [];
  const malformed: string[] = [];
  const reader = new FrameReader({
    // The payload is a view into the chunk; a copy shows the reader does not depend on the caller keeping it.
    frame: (type, flags, id, payload) => frames.push({ type, flags, id, payload: Buffer.from(payload) }),
    malformed: (reason) => malformed.push(reason),
  });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let last = 0;
  for (const end of [...points, bytes.length]) {
    reader.push(bytes.subarray(last, end));
    last = end;
  }
  return { frames, malformed };
}

// Deep equality over 64 KiB buffers is slow; a digest compares the same bytes.
function summary(frame: ReadFrame): Omit<ReadFrame, 'payload'> & { length: number; digest: string } {
  return { type: frame.type, flags: frame.flags, id: frame.id, length: frame.payload.length, digest: createHash('sha1').update(frame.payload).digest('hex') };
}

function blockOf(headers: OutgoingHttpHeaders): Buffer {
  // The frame's payload: the bytes that go on the wire.
  return encodeHeaderFrame(headers).subarray(FRAME_HEADER_BYTES);
}

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz".split('');
const randomToken = fc.array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''));
// Names the decoder matches in place (its common names), and names a character off them, beside random ones.
const nearCommon = fc.constantFrom('host', 'hosu', 'hos', 'date', 'datee', 'content-type', 'content-typf', 'content-length', 'traceparent', 'tracestatf', 'te', 'tf', 'grpc-status', 'x-mesh-peer-identity', 'x-mesh-peer-identitz');
const token = fc.oneof(randomToken, nearCommon);
const plainName = token.filter((n) => n !== 'set-cookie' && n !== 'cookie');
const pseudoName = fc.constantFrom(':status', ':path', ':method', ':authority', ':scheme', ':protocol');
// Any latin1 character but the three that would end or cut a line.
const valueChar = fc.integer({ min: 1, max: 0xff }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c));
const value = fc.array(valueChar, { maxLength: 30 }).map((cs) => cs.join(''));

interface HeaderCase { headers: OutgoingHttpHeaders; expected: Record<string, string | string[]> }

const headerCase: fc.Arbitrary<HeaderCase> = fc
  .record({
    pseudo: fc.uniqueArray(fc.tuple(pseudoName, fc.oneof(value, fc.integer({ min: 100, max: 599 }))), { selector: ([n]) => n, maxLength: 4 }),
    plain: fc.uniqueArray(fc.tuple(plainName, fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 4 }))), { selector: ([n]) => n, maxLength: 8 }),
    setCookie: fc.option(fc.array(value, { minLength: 1, maxLength: 4 }), { nil: undefined }),
    cookie: fc.option(fc.array(value, { minLength: 1, maxLength: 4 }), { nil: undefined }),
  })
  .map(({ pseudo, plain, setCookie, cookie }) => {
    // A null-prototype object, so a generated "__proto__" is a header like any other.
    const headers = Object.create(null) as OutgoingHttpHeaders;
    const expected = Object.create(null) as Record<string, string | string[]>;
    for (const [name, v] of pseudo) {
      headers[name] = v;
      expected[name] = String(v);
    }
    for (const [name, v] of plain) {
      headers[name] = v;
      expected[name] = Array.isArray(v) ? v.join(', ') : v;
    }
    if (setCookie !== undefined) {
      headers['set-cookie'] = setCookie;
      expected['set-cookie'] = setCookie;
    }
    if (cookie !== undefined) {
      headers.cookie = cookie;
      expected.cookie = cookie.join('; ');
    }
    return { headers, expected };
  });

describe('header blocks', () => {
  it('any valid header object reads back the same, duplicates joined as HTTP joins them', () => {
    fc.assert(
      fc.property(headerCase, ({ headers, expected }) => {
        expect({ ...decodeHeaders(blockOf(headers)) }).toEqual({ ...expected });
      }),
      { numRuns: 500 },
    );
  });

  it('names are lowercased on the way out; a value may hold colons, latin1 text, or nothing', () => {
    expect({ ...decodeHeaders(blockOf({ 'X-Request-Id': 'a', 'Content-Type': 'text/plain' })) }).toEqual({ 'x-request-id': 'a', 'content-type': 'text/plain' });
    expect({ ...decodeHeaders(blockOf({ ':path': '/a:b?c=d:e', 'x-a': '', 'x-b': 'caf\u00e9' })) }).toEqual({ ':path': '/a:b?c=d:e', 'x-a': '', 'x-b': 'caf\u00e9' });
  });

  it('arbitrary bytes either decode or fail with HeaderBlockError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeHeaders(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(HeaderBlockError);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('arbitrary text made of header-like lines either decodes or fails with HeaderBlockError', () => {
    const lineish = fc.array(fc.constantFrom('a', 'B', ':', '\n', '\r', '\0', 'x-y', ':path', 'set-cookie', 'cookie', '__proto__', ' ', '\u00ff'), { maxLength: 40 });
    fc.assert(
      fc.property(lineish, (parts) => {
        try {
          const headers = decodeHeaders(Buffer.from(parts.join(''), 'latin1'));
          for (const [name, v] of Object.entries(headers)) {
            expect(name).toMatch(/^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/);
            expect(typeof v === 'string' || Array.isArray(v)).toBe(true);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(HeaderBlockError);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  // The byte-level reader against the regex one it replaced: the same headers, or the same refusal, for any block.
  describe('reads every block as the line-by-line reader did (test/support/mux-header-oracle.ts)', () => {
    const outcome = (decode: (block: Buffer) => IncomingHttpHeaders, block: Buffer): unknown => {
      try {
        return { headers: { ...decode(block) } };
      } catch (error) {
        expect(error).toBeInstanceOf(HeaderBlockError);
        return { refused: (error as Error).message };
      }
    };
    const same = (block: Buffer): void => {
      expect(outcome(decodeHeaders, block)).toEqual(outcome(oracleDecodeHeaders, block));
    };

    it('valid blocks, and valid blocks with one byte changed, cut short or with a byte added', () => {
      fc.assert(
        fc.property(headerCase, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('replace', 'cut', 'insert', 'none'), ({ headers }, at, byte, how) => {
          const block = Buffer.from(blockOf(headers));
          const i = block.length === 0 ? 0 : at % block.length;
          if (how === 'replace' && block.length > 0) block[i] = byte;
          const mutated = how === 'cut' ? block.subarray(0, i) : how === 'insert' ? Buffer.concat([block.subarray(0, i), Buffer.from([byte]), block.subarray(i)]) : block;
          same(mutated);
        }),
        { numRuns: 3_000 },
      );
    });

    it('arbitrary bytes and header-like text', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => same(Buffer.from(bytes))), { numRuns: 1_000 });
      const lineish = fc.array(fc.constantFrom('a', 'B', ':', '::', '\n', '\r', '\0', 'x-y', ':path', 'host', 'set-cookie', 'cookie', '__proto__', ' ', '\u00ff', '\u0080'), { maxLength: 40 });
      fc.assert(fc.property(lineish, (parts) => same(Buffer.from(parts.join(''), 'latin1'))), { numRuns: 2_000 });
    });
  });

  describe('refused on the way in', () => {
    const refusals: [string, string, RegExp][] = [
      ['a CR in a value', 'x-a:b\rc\n', /malformed header line/],
      ['a NUL in a value', 'x-a:b\0c\n', /malformed header line/],
      ['an uppercase name', 'X-A:b\n', /malformed header line/],
      ['a name with a space', 'x a:b\n', /malformed header line/],
      ['a line without a colon', 'x-a\n', /malformed header line/],
      ['an empty name', ':b\n', /malformed header line/],
      ['a pseudo-header twice', ':path:/a\n:path:/b\n', /pseudo-header ":path" appears twice/],
      ['a last line without a newline', 'x-a:b\nx-c:d', /does not end with a newline/],
      ['an empty line', 'x-a:b\n\n', /malformed header line/],
    ];
    for (const [what, text, reason] of refusals) {
      it(what, () => {
        expect(() => decodeHeaders(Buffer.from(text, 'latin1'))).toThrow(HeaderBlockError);
        expect(() => decodeHeaders(Buffer.from(text, 'latin1'))).toThrow(reason);
      });
    }
  });

  describe('refused on the way out, before anything is sent', () => {
    it('a CR, LF or NUL anywhere in a value', () => {
      fc.assert(
        fc.property(value, fc.constantFrom('\r', '\n', '\0'), value, (before, bad, after) => {
          expect(() => encodeHeaderFrame({ 'x-a': `${before}${bad}${after}` })).toThrow(HeaderBlockError);
          expect(() => encodeHeaderFrame({ 'set-cookie': ['ok', `${before}${bad}${after}`] })).toThrow(/CR, LF or NUL/);
        }),
      );
    });

    // Regression: latin1 encoding keeps only the low byte, so U+010A went out as LF and started a header of the caller's choosing.
    it('a character above U+00FF, which latin1 would cut to its low byte (U+010A to LF)', () => {
      expect(() => encodeHeaderFrame({ 'x-a': 'ok\u010Ax-admin:yes' })).toThrow(HeaderBlockError);
      expect(() => encodeHeaderFrame({ 'x-a': 'caf\u00e9 \u20ac' })).toThrow(/outside latin1/);
    });

    // Regression: names were not checked, so "a:b" read back as "a" and a LF in a name started another header.
    it('a name that is not a token', () => {
      for (const name of ['a:b', 'x\ny', 'a b', '', '::path', 'caf\u00e9']) {
        expect(() => encodeHeaderFrame({ [name]: 'v' }), JSON.stringify(name)).toThrow(HeaderBlockError);
      }
    });

    // Regression: the peer refuses a repeated pseudo-header by failing the whole connection; ours must not send one.
    it('a pseudo-header with more than one value', () => {
      expect(() => encodeHeaderFrame({ ':path': ['/a', '/b'] })).toThrow(/pseudo-header ":path"/);
      expect(() => encodeHeaderFrame({ ':Path': '/a', ':path': '/b' })).toThrow(/pseudo-header ":path"/);
    });

    it('a block larger than a frame', () => {
      expect(() => encodeHeaderFrame({ 'x-a': 'v'.repeat(MAX_FRAME_PAYLOAD) })).toThrow(HeaderBlockError);
      const fits = encodeHeaderFrame({ 'x-a': 'v'.repeat(MAX_FRAME_PAYLOAD - 'x-a:\n'.length) });
      expect(fits.length).toBe(FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD);
      expect(fits.readUIntBE(0, 3)).toBe(MAX_FRAME_PAYLOAD);
    });
  });

  it('names go out lowercase, numbers as their decimal text', () => {
    expect({ ...decodeHeaders(blockOf({ 'X-Mixed-Case': 'v', ':Status': 204, 'content-length': 0 })) }).toEqual({ 'x-mixed-case': 'v', ':status': '204', 'content-length': '0' });
  });

  // Decoded headers are header bags (transport/header-bag.ts): nothing of Object.prototype behind them.
  function expectNothingInherited(headers: IncomingHttpHeaders): void {
    for (const name of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) expect((headers as Record<string, unknown>)[name]).toBeUndefined();
    expect(Object.getPrototypeOf(Object.getPrototypeOf(headers))).toBeNull();
  }

  it('a "__proto__" header is a header: no prototype is touched', () => {
    const headers: IncomingHttpHeaders = decodeHeaders(Buffer.from('__proto__:polluted\nconstructor:x\nx-a:b\n', 'latin1'));
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('polluted');
    expect(headers['x-a']).toBe('b');
    expect(headers['constructor']).toBe('x');
    expectNothingInherited(headers);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // A parsed JSON object carries "__proto__" as an own key: it goes out as a header and comes back as one.
    const outgoing = JSON.parse('{"__proto__":"p","x-b":"c"}') as OutgoingHttpHeaders;
    const back = decodeHeaders(blockOf(outgoing));
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toBe('p');
    expectNothingInherited(back);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
});

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0x7fffffff }),
  payload: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_FRAME_PAYLOAD }).map((n) => new Uint8Array(n).fill(n & 0xff)) }).map((a) => Buffer.from(a)),
});

describe('FrameReader', () => {
  it('any sequence of frames, split anywhere, reads back as the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.flatMap((f) => [frameHeader(f.type, f.flags, f.id, f.payload.length), f.payload]));
        const read = readFrames(bytes, cuts);
        expect(read.malformed).toEqual([]);
        expect(read.frames.map(summary)).toEqual(frames.map(summary));
      }),
      { numRuns: 300 },
    );
  });

  it('one byte at a time reads the same as all at once', () => {
    fc.assert(
      fc.property(fc.array(frameArb.filter((f) => f.payload.length < 1_000), { maxLength: 5 }), (frames) => {
        const bytes = Buffer.concat(frames.flatMap((f) => [frameHeader(f.type, f.flags, f.id, f.payload.length), f.payload]));
        expect(readFrames(bytes, [...Array(bytes.length).keys()]).frames.map(summary)).toEqual(frames.map(summary));
      }),
      { numRuns: 100 },
    );
  });

  it('text frames carry their integers and their text', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 3 }), fc.string({ maxLength: 100 }), fc.integer({ min: 0, max: 0x7fffffff }), (prefix, text, id) => {
        const reason = reasonText(text);
        const { frames } = readFrames(textFrame(Frame.reset, 0, id, prefix, reason), []);
        expect(frames).toHaveLength(1);
        const payload = frames[0]!.payload;
        expect(prefix.map((_, i) => payload.readUInt32BE(i * 4))).toEqual(prefix);
        expect(payload.toString('utf8', prefix.length * 4)).toBe(Buffer.from(reason, 'utf8').toString('utf8'));
        expect(payload.length - prefix.length * 4).toBeLessThanOrEqual(MAX_REASON_BYTES);
      }),
    );
  });

  // Regression: the cut could fall between the halves of a surrogate pair, which went out as U+FFFD.
  it('a long reason is cut to fit the limit, on a whole character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 300, maxLength: 600 }), (text) => {
        const reason = reasonText(text);
        expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
        expect(reason.endsWith('...')).toBe(true);
        expect(Buffer.from(reason).toString()).toBe(reason);
      }),
    );
    expect(reasonText('\u{1F600}'.repeat(300))).toBe(`${'\u{1F600}'.repeat(126)}...`);
  });

  it('arbitrary bytes in arbitrary pieces never throw; after "malformed" no frame is delivered', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const events: string[] = [];
        const reader = new FrameReader({ frame: () => events.push('frame'), malformed: () => events.push('malformed') });
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let last = 0;
        for (const end of [...points, bytes.length]) {
          expect(() => reader.push(Buffer.from(bytes.subarray(last, end)))).not.toThrow();
          last = end;
        }
        const firstMalformed = events.indexOf('malformed');
        if (firstMalformed >= 0) expect(events.slice(firstMalformed)).toEqual(['malformed']);
      }),
      { numRuns: 1_000 },
    );
  });

  it('a frame of exactly 64 KiB is read; one byte more is malformed with a reason, and nothing after it is read', () => {
    const atLimit = readFrames(Buffer.concat([frameHeader(Frame.data, 0, 1, MAX_FRAME_PAYLOAD), Buffer.alloc(MAX_FRAME_PAYLOAD, 7)]), [100, 5_000]);
    expect(atLimit.malformed).toEqual([]);
    expect(atLimit.frames[0]?.payload.length).toBe(MAX_FRAME_PAYLOAD);

    const over = readFrames(Buffer.concat([textFrame(Frame.window, 0, 1, [10], ''), frameHeader(Frame.data, 0, 1, MAX_FRAME_PAYLOAD + 1), Buffer.alloc(100), textFrame(Frame.window, 0, 1, [20], '')]), [3, 15]);
    expect(over.frames.map((f) => f.type)).toEqual([Frame.window]);
    expect(over.malformed).toHaveLength(1);
    expect(over.malformed[0]).toMatch(/65537 bytes, more than the 65536 allowed/);
  });

  it('the reserved top bit of a stream id is ignored', () => {
    const header = frameHeader(Frame.data, 0, 0, 0);
    header.writeUInt32BE(0x80000005, 5);
    expect(readFrames(header, []).frames[0]?.id).toBe(5);
  });

  it('stop() drops a frame that is half read and ignores the rest', () => {
    const frames: number[] = [];
    const reader = new FrameReader({ frame: (type) => frames.push(type), malformed: () => frames.push(-1) });
    const whole = textFrame(Frame.window, 0, 1, [5], '');
    reader.push(whole.subarray(0, 4));
    reader.stop();
    reader.push(whole.subarray(4));
    reader.push(whole);
    expect(frames).toEqual([]);
  });
});
