// Strict HTTP/1.1 request heads (RFC 9112): where the head ends, what it says, and how its body is framed.
import { lowerFieldNameAt } from './common-fields.js';

export interface RequestHead {
  method: string;
  // The request target exactly as sent (origin-form, absolute-form, authority-form or "*").
  target: string;
  minorVersion: 0 | 1;
  // name, value, name, value... in order, names as sent, values without surrounding whitespace.
  rawHeaders: string[];
  host: string | undefined;
  // -1 when there is no Content-Length.
  contentLength: number;
  chunked: boolean;
  // Whether the connection may carry another request after this one.
  keepAlive: boolean;
  // The Upgrade header's value when Connection lists "upgrade"; the request then hands the connection over.
  upgrade: string | null;
  expectContinue: boolean;
  // Bytes from the start of the head to just past its blank line.
  length: number;
}

export class HttpParseError extends Error {
  constructor(
    readonly status: 400 | 408 | 417 | 431 | 501 | 505,
    message: string,
  ) {
    super(message);
    this.name = 'HttpParseError';
  }
}

// node:http's default limit for the whole head, and what callers of the old listener were used to.
export const MAX_HEAD_BYTES = 16 * 1024;

export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A request target: visible ASCII, no spaces.
export const TARGET = /^[\x21-\x7e]+$/;
// Field values: visible ASCII, obs-text, spaces and tabs; never CR, LF, NUL or other controls.
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^[0-9]+$/;
const CR = 13;
const LF = 10;

// Returns undefined while the head is incomplete. Leading blank lines are skipped (RFC 9112 2.2).
export function parseRequestHead(buf: Buffer, start: number): RequestHead | HttpParseError | undefined {
  let from = start;
  while (buf.length - from >= 2 && buf[from] === CR && buf[from + 1] === LF) from += 2;
  const head = readHeadLines(buf, start, from, 'the request head', 431);
  if (head === undefined || head instanceof HttpParseError) return head;
  if (head.lines.length === 0) return new HttpParseError(400, 'the request has no request line');
  return readHead(head.lines, head.length);
}

// The CRLF-terminated lines of a head, read from `from` up to its blank line; `length` counts from `start`,
// and so does the size limit. undefined while the blank line has not arrived. noun names the head in errors.
export function readHeadLines(buf: Buffer, start: number, from: number, noun: string, tooLarge: 400 | 431): { lines: string[]; length: number } | HttpParseError | undefined {
  const lines: string[] = [];
  for (let lineStart = from; ; ) {
    const lf = buf.indexOf(LF, lineStart);
    if (lf < 0 || lf - start >= MAX_HEAD_BYTES) {
      const seen = (lf < 0 ? buf.length : lf) - start;
      return seen >= MAX_HEAD_BYTES ? new HttpParseError(tooLarge, `${noun} is larger than ${MAX_HEAD_BYTES} bytes`) : undefined;
    }
    if (lf === lineStart || buf[lf - 1] !== CR) return new HttpParseError(400, `a line of ${noun} ends in a bare LF; HTTP/1.1 lines end in CRLF`);
    if (lf - 1 === lineStart) return { lines, length: lf + 1 - start };
    const line = buf.toString('latin1', lineStart, lf - 1);
    if (line.includes('\r')) return new HttpParseError(400, `a bare CR inside ${noun}`);
    lines.push(line);
    lineStart = lf + 1;
  }
}

function readHead(lines: string[], length: number): RequestHead | HttpParseError {
  const requestLine = lines[0] as string;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return new HttpParseError(400, `malformed request line "${requestLine.slice(0, 200)}": expected "METHOD target HTTP/1.1"`);
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return new HttpParseError(400, `the method "${method.slice(0, 50)}" is not a token`);
  if (!TARGET.test(target)) return new HttpParseError(400, 'the request target has characters that are not visible ASCII');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    return /^HTTP\/\d\.\d$/.test(version) ? new HttpParseError(505, `${version} is not supported here; send HTTP/1.1`) : new HttpParseError(400, `"${version.slice(0, 20)}" is not an HTTP version`);
  }
  const head: RequestHead = {
    method,
    target,
    minorVersion: version === 'HTTP/1.1' ? 1 : 0,
    rawHeaders: [],
    host: undefined,
    contentLength: -1,
    chunked: false,
    keepAlive: version === 'HTTP/1.1',
    upgrade: null,
    expectContinue: false,
    length,
  };
  let hosts = 0;
  let connectionUpgrade = false;
  let upgrade: string | null = null;
  let transferEncoding: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) return new HttpParseError(400, 'a header line is folded (starts with whitespace); obsolete line folding is not accepted');
    const colon = line.indexOf(':');
    if (colon <= 0) return new HttpParseError(400, `the header line "${line.slice(0, 100)}" has no name`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return new HttpParseError(400, `the header name "${name.slice(0, 100)}" is not a token${/[ \t]$/.test(name) ? ' (no whitespace is allowed before the colon)' : ''}`);
    const value = fieldValueAt(line, colon + 1);
    if (!FIELD_VALUE.test(value)) return new HttpParseError(400, `the value of header "${name}" has control characters`);
    head.rawHeaders.push(name, value);
    switch (lowerFieldNameAt(name, name.length)) {
      case 'host':
        hosts += 1;
        head.host = value;
        break;
      case 'content-length': {
        const length = contentLength(value, head.contentLength);
        if (length instanceof HttpParseError) return length;
        head.contentLength = length;
        break;
      }
      case 'transfer-encoding':
        transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        break;
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const option = token.trim();
          if (option === 'close') head.keepAlive = false;
          else if (option === 'keep-alive' && head.minorVersion === 0) head.keepAlive = true;
          else if (option === 'upgrade') connectionUpgrade = true;
        }
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'expect':
        if (value.toLowerCase() !== '100-continue') return new HttpParseError(417, `the expectation "${value.slice(0, 100)}" cannot be met; only "100-continue" is understood`);
        head.expectContinue = true;
        break;
    }
  }
  if (hosts > 1) return new HttpParseError(400, 'the request has more than one Host header');
  if (hosts === 0 && head.minorVersion === 1) return new HttpParseError(400, 'an HTTP/1.1 request must have a Host header');
  if (transferEncoding !== null) {
    // RFC 9112 6.1-6.3: both framings at once is how requests are smuggled past a proxy; refuse, never pick one.
    if (head.contentLength >= 0) return new HttpParseError(400, 'the request has both Content-Length and Transfer-Encoding');
    if (head.minorVersion === 0) return new HttpParseError(400, 'Transfer-Encoding is not defined for HTTP/1.0');
    const codings = transferEncoding.toLowerCase().split(',').map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      // Other codings before a final chunked are valid HTTP we do not implement; anything else is malformed.
      const wellFormed = codings.at(-1) === 'chunked' && codings.indexOf('chunked') === codings.length - 1 && !codings.includes('');
      return new HttpParseError(wellFormed ? 501 : 400, `Transfer-Encoding "${transferEncoding.slice(0, 100)}" is not supported; only "chunked" is`);
    }
    head.chunked = true;
  }
  if (connectionUpgrade && upgrade !== null) head.upgrade = upgrade;
  return head;
}

// A field line's value: from `from` (just past the colon) to the end, without the optional whitespace
// around it (RFC 9112 5.1). Nearly every line has one space after its colon: one slice, no regex.
export function fieldValueAt(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

const isOws = (c: number): boolean => c === 32 || c === 9;

// Repeated Content-Length values (or a list) are allowed only when they all agree (RFC 9110 8.6).
function contentLength(value: string, previous: number): number | HttpParseError {
  let length = previous;
  for (const part of value.split(',')) {
    const digits = part.trim();
    if (!DIGITS.test(digits) || digits.length > 15) return new HttpParseError(400, `Content-Length "${value.slice(0, 50)}" is not a length`);
    const n = Number(digits);
    if (length >= 0 && n !== length) return new HttpParseError(400, `the request has Content-Length values that differ (${length} and ${n})`);
    length = n;
  }
  return length;
}
