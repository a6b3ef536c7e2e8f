// The hand-written HTTP/1.1 framing, requests from apps and answers from apps: any valid message in any split reads back the same, every ambiguous one is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyDecoder } from '../src/transport/http1-body.js';
import { HttpParseError, MAX_HEAD_BYTES, parseRequestHead, type RequestHead } from '../src/transport/http1-head.js';
import { parseResponseHead, type ResponseHead } from '../src/transport/http1-response.js';
import { oracleRequestHead, oracleResponseHead } from './support/http1-oracle.js';

const tokenChar = fc.constantFrom(...'!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));
const token = fc.array(tokenChar, { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''));
const reserved = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect']);
const headerName = token.filter((n) => !reserved.has(n.toLowerCase()));
// Values as they arrive after trimming: no leading or trailing whitespace, inner spaces and tabs allowed.
const valueChar = fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.constant(0x20), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c));
const headerValue = fc.array(valueChar, { maxLength: 40 }).map((cs) => cs.join('').replace(/^[ \t]+|[ \t]+$/g, ''));
const target = fc.array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 1, maxLength: 60 }).map((cs) => `/${String.fromCharCode(...cs)}`);
// Bytes that break a head where they land (or do not): whitespace, a colon, controls, obs-text, CR and LF.
const odd = fc.constantFrom(' ', '\t', ':', '\x00', '\x7f', '\x1f', '\x80', '\xff', 'A', '\r', '\n');

interface Sample {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
  chunks: number[] | null;
}

const sample: fc.Arbitrary<Sample> = fc.record({
  method: token,
  target,
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  chunked: fc.option(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), { nil: null }),
}).map(({ chunked, ...s }) => ({ ...s, chunks: chunked }));

function serialize(s: Sample): Buffer {
  let head = `${s.method} ${s.target} HTTP/1.1\r\nHost: orders.shop\r\n`;
  for (const [name, value] of s.headers) head += `${name}: ${value}\r\n`;
  if (s.chunks === null) return Buffer.concat([Buffer.from(`${head}Content-Length: ${s.body.length}\r\n\r\n`, 'latin1'), s.body]);
  const parts: Buffer[] = [Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`, 'latin1')];
  let at = 0;
  for (let i = 0; at < s.body.length; i = (i + 1) % s.chunks.length) {
    const piece = s.body.subarray(at, at + (s.chunks[i] as number));
    at += piece.length;
    parts.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\nx-trailer: t\r\n\r\n'));
  return Buffer.concat(parts);
}

// Feeds the bytes in the given pieces, as a connection would: returns each request's head and decoded body.
function readAll(bytes: Buffer, cuts: number[]): { head: RequestHead; body: Buffer }[] | HttpParseError {
  const out: { head: RequestHead; body: Buffer }[] = [];
  let pending = Buffer.alloc(0);
  let current: { head: RequestHead; decoder: BodyDecoder; body: Buffer[] } | null = null;
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let last = 0;
  for (const end of [...points, bytes.length]) {
    pending = Buffer.concat([pending, bytes.subarray(last, end)]);
    last = end;
    for (;;) {
      if (current === null) {
        const head = parseRequestHead(pending, 0);
        if (head === undefined) break;
        if (head instanceof HttpParseError) return head;
        pending = pending.subarray(head.length);
        current = { head, decoder: new BodyDecoder(head.chunked ? -1 : Math.max(head.contentLength, 0)), body: [] };
      }
      const decoded = current.body;
      const consumed = current.decoder.decode(pending, 0, (data) => decoded.push(Buffer.from(data)));
      if (consumed instanceof HttpParseError) return consumed;
      pending = pending.subarray(consumed);
      if (!current.decoder.done) break;
      out.push({ head: current.head, body: Buffer.concat(decoded) });
      current = null;
    }
  }
  return out;
}

function refusal(text: string): HttpParseError {
  const bytes = Buffer.from(text, 'latin1');
  const result = readAll(bytes, []);
  if (!(result instanceof HttpParseError)) throw new Error(`accepted: ${JSON.stringify(text)}`);
  return result;
}

describe('HTTP/1.1 request framing', () => {
  it('reads any valid request, pipelined after another, the same however the bytes are split', () => {
    fc.assert(
      fc.property(sample, sample, fc.array(fc.nat(), { maxLength: 12 }), (a, b, cuts) => {
        const result = readAll(Buffer.concat([serialize(a), serialize(b)]), cuts);
        if (result instanceof HttpParseError) throw result;
        expect(result).toHaveLength(2);
        for (const [i, s] of [a, b].entries()) {
          const { head, body } = result[i] as { head: RequestHead; body: Buffer };
          expect(head.method).toBe(s.method);
          expect(head.target).toBe(s.target);
          expect(head.host).toBe('orders.shop');
          expect(head.chunked).toBe(s.chunks !== null);
          expect(head.rawHeaders.slice(2, 2 + s.headers.length * 2)).toEqual(s.headers.flat());
          expect(body.equals(s.body)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a field value without the spaces and tabs around it, however many (RFC 9112 5.1)', () => {
    const ows = fc.array(fc.constantFrom(' ', '\t'), { maxLength: 4 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(headerName, ows, fc.array(valueChar, { maxLength: 40 }).map((cs) => cs.join('')), ows, (name, before, value, after) => {
        const line = `${name}:${before}${value}${after}`;
        const head = parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`, 'latin1'), 0) as RequestHead;
        expect(head.rawHeaders[3]).toBe(value.replace(/^[ \t]+|[ \t]+$/g, ''));
      }),
    );
  });

  // Request heads valid and not, for the byte-level parser against the line-by-line one (support/http1-oracle.ts).
  const requestLines = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'OPTIONS', 'get'), target, fc.constantFrom('HTTP/1.1', 'HTTP/1.0')).map(([m, t, v]) => `${m} ${t} ${v}`) },
    { weight: 1, arbitrary: fc.constantFrom('GET / HTTP/2.0', 'GET / HTTP/1.1 x', 'GET  / HTTP/1.1', 'G(T / HTTP/1.1', 'GET /\x7f HTTP/1.1', 'GET / http/1.1', 'GET /', '') },
  );
  const requestFields = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(headerName, fc.constantFrom(':', ': ', ':\t', ':  '), headerValue, fc.constantFrom('', ' ', '\t ')).map(([n, c, v, t]) => `${n}${c}${v}${t}`) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('Host', 'host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Upgrade', 'Expect', 'TE'), fc.constantFrom('orders.shop', '3', ' 3, 3 ', '3, 4', 'x', 'chunked', 'gzip, chunked', 'chunked, gzip', 'keep-alive', 'close', 'Upgrade', 'websocket', '100-continue', 'nope', '')).map(([n, v]) => `${n}: ${v}`) },
    { weight: 1, arbitrary: fc.tuple(headerName, fc.array(odd, { maxLength: 3 }), fc.string({ maxLength: 6 })).map(([n, o, rest]) => `${n}${o.join('')}${rest}`) },
    { weight: 1, arbitrary: fc.tuple(headerName, headerValue, odd, headerValue).map(([n, a, o, b]) => `${n}: ${a}${o}${b}`) },
    { weight: 1, arbitrary: fc.constantFrom(' folded: x', '\tfolded: x', ':novalue', 'no colon', 'sp ace: x', 'name : x') },
  );
  const request = fc.tuple(fc.constantFrom('', '\r\n'), requestLines, fc.array(requestFields, { maxLength: 8 }), fc.oneof({ weight: 6, arbitrary: fc.constant('\r\n\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n\r\n', '') })).map(([lead, line, fields, end]) => `${lead}${[line, ...fields].join('\r\n')}${end}`);
  const requestOutcome = (r: RequestHead | HttpParseError | undefined): unknown => (r instanceof HttpParseError ? { refused: r.status, message: r.message } : r ?? 'incomplete');

  it('reads every head, valid or not, exactly as the line-by-line parser did: same result, same refusal', () => {
    fc.assert(
      fc.property(request, fc.constantFrom('', 'body'), (head, after) => {
        const bytes = Buffer.from(`${head}${after}`, 'latin1');
        expect(requestOutcome(parseRequestHead(bytes, 0))).toEqual(requestOutcome(oracleRequestHead(bytes, 0)));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary bytes, and never reads a head past its limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const result = parseRequestHead(Buffer.from(bytes), 0);
        if (result !== undefined && !(result instanceof HttpParseError)) expect(result.length).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 500 },
    );
    const big = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}`);
    expect((parseRequestHead(big, 0) as HttpParseError).status).toBe(431);
  });

  it('refuses every framing a proxy could read differently from the app (request smuggling)', () => {
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n').message).toMatch(/differ/);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n').status).toBe(400);
    for (const length of ['+3', '-1', '3a', '0x3', '']) expect(refusal(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${length}\r\n\r\n`).status).toBe(400);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').status).toBe(501);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n').status).toBe(400);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
    expect(refusal('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
    expect(refusal('GET / HTTP/1.1\r\nHost : a\r\n\r\n').message).toMatch(/before the colon/);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nx-a: 1\r\n  folded\r\n\r\n').message).toMatch(/folded/);
    expect(refusal('GET / HTTP/1.1\nHost: a\r\n\r\n').message).toMatch(/bare LF/);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n').message).toMatch(/bare CR/);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nx-a: a\u0000b\r\n\r\n').message).toMatch(/control/);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n').message).toMatch(/chunk size/);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n').message).toMatch(/chunk size/);
    expect(refusal('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n').message).toMatch(/CRLF/);
  });

  it('refuses heads it cannot serve, with the status that says why', () => {
    expect(refusal('GET / HTTP/1.1\r\n\r\n').message).toMatch(/Host/);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n').message).toMatch(/more than one Host/);
    expect(refusal('GET / HTTP/2.0\r\nHost: a\r\n\r\n').status).toBe(505);
    expect(refusal('GET / HTTP/1.1x\r\nHost: a\r\n\r\n').status).toBe(400);
    expect(refusal('GET  / HTTP/1.1\r\nHost: a\r\n\r\n').message).toMatch(/request line/);
    expect(refusal('G(T / HTTP/1.1\r\nHost: a\r\n\r\n').message).toMatch(/not a token/);
    expect(refusal('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n').status).toBe(417);
  });

  it('reads keep-alive, upgrade and expectations as RFC 9112 and node:http do', () => {
    const head = (text: string): RequestHead => parseRequestHead(Buffer.from(text), 0) as RequestHead;
    expect(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').keepAlive).toBe(true);
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
    expect(head('GET / HTTP/1.0\r\n\r\n').keepAlive).toBe(false);
    expect(head('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe('websocket');
    // Upgrade without Connection: upgrade is only a header (RFC 9110 7.8).
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBeNull();
    expect(head('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n').expectContinue).toBe(true);
    expect(head('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('GET');
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n').contentLength).toBe(7);
  });
});

describe("HTTP/1.1 answers from the app", () => {
  const parse = (text: string, head = false): ResponseHead | HttpParseError | undefined => parseResponseHead(Buffer.from(text, 'latin1'), 0, head);

  it('reads any valid answer head the same however much of it has arrived', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }), fc.nat(), (status, headers, cut) => {
        let text = `HTTP/1.1 ${status} Whatever Reason\r\n`;
        for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
        text += 'Content-Length: 3\r\n\r\n';
        const bytes = Buffer.from(`${text}abc`, 'latin1');
        const at = cut % text.length;
        expect(parseResponseHead(bytes.subarray(0, at), 0, false)).toBeUndefined();
        const head = parseResponseHead(bytes, 0, false) as ResponseHead;
        expect(head.status).toBe(status);
        expect(head.length).toBe(text.length);
        expect(head.framing).toBe(status < 200 || status === 204 || status === 304 ? 'none' : 'length');
        for (const [name, value] of headers) expect([head.headers[name.toLowerCase()]].flat()).toContain(value);
      }),
      { numRuns: 300 },
    );
  });

  // Pieces an answer head is made of, valid and not: what the byte-level parser must read exactly as the
  // line-by-line one did (support/http1-response-oracle.ts), the same result or the same refusal.
  const statusLines = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom('0', '1'), fc.integer({ min: 100, max: 599 }), fc.constantFrom('', ' OK', ' ', ' Whatever Reason', ' r\x80\xff')).map(([m, n, r]) => `HTTP/1.${m} ${n}${r}`) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 999 }).map((n) => `HTTP/1.1 ${String(n).padStart(3, '0')} X`) },
    { weight: 1, arbitrary: fc.constantFrom('HTTP/2 200', 'HTTP/1.1 20', 'HTTP/1.1 2000', 'http/1.1 200 OK', 'HTTP/1.1  200', 'HTTP/1.1 200x', 'HTTP/1.2 200', '') },
  );
  const fieldLines = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(token, fc.constantFrom(':', ': ', ':\t', ':  '), headerValue, fc.constantFrom('', ' ', '\t ')).map(([n, c, v, t]) => `${n}${c}${v}${t}`) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('Content-Length', 'content-length', 'Transfer-Encoding', 'Connection', 'CONNECTION', 'Set-Cookie', 'Server', 'Date'), fc.constantFrom('3', ' 3 ', '4', '-1', 'x', 'chunked', 'gzip, chunked', 'keep-alive', 'Keep-Alive', 'close', 'Close, keep-alive', ' keep-alive , close', 'upgrade', '')).map(([n, v]) => `${n}: ${v}`) },
    { weight: 1, arbitrary: fc.tuple(token, fc.array(odd, { maxLength: 3 }), fc.string({ maxLength: 6 })).map(([n, o, rest]) => `${n}${o.join('')}${rest}`) },
    { weight: 1, arbitrary: fc.tuple(token, headerValue, odd, headerValue).map(([n, a, o, b]) => `${n}: ${a}${o}${b}`) },
  );
  const answer = fc.tuple(statusLines, fc.array(fieldLines, { maxLength: 8 }), fc.oneof({ weight: 6, arbitrary: fc.constant('\r\n\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n\r\n', '\r\n\n', '') })).map(([status, fields, end]) => `${[status, ...fields].join('\r\n')}${end}`);
  const outcome = (r: ResponseHead | HttpParseError | undefined): unknown => (r instanceof HttpParseError ? { refused: r.status, message: r.message } : r === undefined ? 'incomplete' : { ...r, headers: { ...r.headers } });

  it('reads every head, valid or not, exactly as the line-by-line parser did: same result, same refusal, both ways of HEAD', () => {
    fc.assert(
      fc.property(answer, fc.boolean(), fc.constantFrom('', 'body'), (head, headRequest, after) => {
        const bytes = Buffer.from(`${head}${after}`, 'latin1');
        expect(outcome(parseResponseHead(bytes, 0, headRequest))).toEqual(outcome(oracleResponseHead(bytes, 0, headRequest)));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a head past its limit, a bare CR and a head at an offset as the line-by-line parser did', () => {
    const long = Buffer.from(`HTTP/1.1 200 OK\r\nx-a: ${'v'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 'latin1');
    expect(outcome(parseResponseHead(long, 0, false))).toEqual(outcome(oracleResponseHead(long, 0, false)));
    expect(outcome(parseResponseHead(long.subarray(0, MAX_HEAD_BYTES - 10), 0, false))).toBe('incomplete');
    const bareCr = Buffer.from('HTTP/1.1 200 OK\r\nx-a: b\rc\r\n\r\n', 'latin1');
    expect(outcome(parseResponseHead(bareCr, 0, false))).toEqual(outcome(oracleResponseHead(bareCr, 0, false)));
    const offset = Buffer.from('junkHTTP/1.1 204 No Content\r\nServer: x\r\n\r\n', 'latin1');
    expect(outcome(parseResponseHead(offset, 4, false))).toEqual(outcome(oracleResponseHead(offset, 4, false)));
    expect((parseResponseHead(offset, 4, false) as ResponseHead).length).toBe(offset.length - 4);
  });

  it('frames the body as RFC 9112 6.3 says, and keeps repeated headers as lists', () => {
    expect((parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', true) as ResponseHead).framing).toBe('none');
    expect((parse('HTTP/1.1 204 No Content\r\n\r\n') as ResponseHead).framing).toBe('none');
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({ framing: 'chunked', keepAlive: true });
    expect(parse('HTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ framing: 'close', keepAlive: false });
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toMatchObject({ framing: 'close', keepAlive: false });
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n')).toMatchObject({ framing: 'length', keepAlive: false });
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n')).toMatchObject({ keepAlive: true });
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n')).toMatchObject({ keepAlive: false });
    const repeated = parse('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n') as ResponseHead;
    expect(repeated.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(repeated.headers['content-length']).toBe('2');
  });

  it('refuses answers a connection could be desynchronised by', () => {
    expect((parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n') as HttpParseError).message).toMatch(/both/);
    expect((parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n') as HttpParseError).status).toBe(400);
    expect((parse('HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n') as HttpParseError).status).toBe(400);
    expect((parse('HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\n') as HttpParseError).message).toMatch(/bare LF/);
    expect((parse('HTTP/1.1 200 OK\r\n folded: x\r\n\r\n') as HttpParseError).status).toBe(400);
    expect((parse('HTTP/2 200\r\n\r\n') as HttpParseError).message).toMatch(/status line/);
    expect((parse('HTTP/1.1 099 Low\r\n\r\n') as HttpParseError).message).toMatch(/status line/);
  });
});
