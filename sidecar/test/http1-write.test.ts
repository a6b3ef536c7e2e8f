// An HTTP/1.1 head written into one buffer is byte for byte the head the text writer makes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { OutgoingHttpHeaders } from 'node:http';
import { HeadBuilder, statusLine } from '../src/transport/http1-write.js';
import { isHopByHop } from '../src/pipeline/headers.js';

const name = fc.oneof(
  fc.constantFrom(':status', ':path', 'host', 'connection', 'transfer-encoding', 'content-length', 'date', 'x-mesh-peer-identity', 'set-cookie'),
  fc.stringMatching(/^[a-z0-9-]{1,12}$/),
);
// Any UTF-16 unit, latin1 and beyond: both writers keep a character's low byte.
const value = fc.oneof(fc.string({ maxLength: 20, unit: 'binary' }), fc.integer({ min: 0, max: 1e6 }));
const headers = fc.dictionary(name, fc.oneof(value, fc.array(value, { maxLength: 3 })), { maxKeys: 10 }).map((d) => d as OutgoingHttpHeaders);

// The oracle: the text writer the builder replaced. "name: value\r\n" per field, a line per list item.
function headerLines(headers: OutgoingHttpHeaders): string {
  let lines = '';
  for (const [field, v] of Object.entries(headers)) {
    if (field.startsWith(':') || v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) lines += `${field}: ${String(item)}\r\n`;
  }
  return lines;
}

function asText(startLine: string, fields: OutgoingHttpHeaders, omit: (name: string) => boolean, extra: string): Buffer {
  const kept: OutgoingHttpHeaders = {};
  for (const [n, v] of Object.entries(fields)) if (!omit(n)) kept[n] = v;
  return Buffer.from(`${startLine}${headerLines(kept)}${extra}\r\n`, 'latin1');
}

describe('HeadBuilder', () => {
  const builder = new HeadBuilder();
  const headBuffer = (startLine: string, fields: OutgoingHttpHeaders, omit: (name: string) => boolean, extra: string): Buffer =>
    builder.start().text(startLine).fields(fields, omit).text(extra).done();

  it('writes what the text writer writes, for any fields, filter and extra lines', () => {
    fc.assert(
      fc.property(headers, fc.boolean(), fc.string({ maxLength: 30 }), (fields, dropHopByHop, extraValue) => {
        const omit = dropHopByHop ? isHopByHop : () => false;
        const extra = extraValue === '' ? '' : `x-extra: ${extraValue}\r\n`;
        expect(headBuffer('HTTP/1.1 200 OK\r\n', fields, omit, extra)).toEqual(asText('HTTP/1.1 200 OK\r\n', fields, omit, extra));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves out pseudo-headers, undefined values and filtered fields; a list is one line per value', () => {
    const head = headBuffer('GET / HTTP/1.1\r\n', { ':path': '/', connection: 'close', 'x-a': ['1', '2'], 'x-b': undefined, 'content-length': 3 }, isHopByHop, 'host: a\r\n');
    expect(head.toString('latin1')).toBe('GET / HTTP/1.1\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 3\r\nhost: a\r\n\r\n');
  });

  it('grows past its scratch space for a large head, and each head is a buffer of its own', () => {
    const large = builder.start().text('HTTP/1.1 200 OK\r\n').line('x-big', 'v'.repeat(20_000)).done();
    const small = builder.start().text('HTTP/1.1 204 No Content\r\n').line('x-a', '1').done();
    expect(large.length).toBe(17 + 7 + 20_000 + 2 + 2);
    expect(large.subarray(-6).toString('latin1')).toBe('vv\r\n\r\n');
    expect(small.toString('latin1')).toBe('HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n');
    expect(large.toString('latin1', 0, 17)).toBe('HTTP/1.1 200 OK\r\n');
  });

  it('done(body) is the head followed by the body, in one buffer', () => {
    fc.assert(
      fc.property(headers, fc.uint8Array({ maxLength: 9_000 }), (fields, bytes) => {
        const body = Buffer.from(bytes);
        const head = builder.start().text('HTTP/1.1 200 OK\r\n').fields(fields, () => false).done();
        const whole = builder.start().text('HTTP/1.1 200 OK\r\n').fields(fields, () => false).done(body);
        expect(whole.equals(Buffer.concat([head, body]))).toBe(true);
      }),
    );
  });
});

describe('statusLine', () => {
  it('carries the reason phrase node knows, and "Unknown" for a code it does not', () => {
    expect(statusLine(404)).toBe('HTTP/1.1 404 Not Found\r\n');
    expect(statusLine(101)).toBe('HTTP/1.1 101 Switching Protocols\r\n');
    expect(statusLine(599)).toBe('HTTP/1.1 599 Unknown\r\n');
    expect(statusLine(404)).toBe(statusLine(404));
  });
});
