// Strict HTTP/1.1 request heads (RFC 9112): where the head ends, what it says, and how its body is framed.
import { lowerFieldNameIn } from './common-fields.js';

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
const DIGITS = /^[0-9]+$/;
const CR = 13;
const LF = 10;

// Bytes a field name may have (RFC 9110 5.6.2 tchar, either case), and bytes a field value may have:
// visible ASCII, obs-text, space and tab; never another control character.
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
const VCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VCHAR[c] = c === 9 || (c >= 0x20 && c !== 0x7f) ? 1 : 0;

// Where each line of the head last found starts and ends (CRLF excluded), pairs of offsets; refilled by
// every findHeadLines, whose caller reads them before anything else can run.
export const headLines: number[] = [];

// Finds the CRLF-terminated lines of a head from `from` up to its blank line, into headLines; returns the
// head's length counted from `start` (as is the size limit), undefined while the blank line has not
// arrived, or why the bytes are not a head. noun names the head in errors. No string is made.
export function findHeadLines(buf: Buffer, start: number, from: number, noun: string, tooLarge: 400 | 431): number | HttpParseError | undefined {
  headLines.length = 0;
  for (let lineStart = from; ; ) {
    const lf = buf.indexOf(LF, lineStart);
    if (lf < 0 || lf - start >= MAX_HEAD_BYTES) {
      const seen = (lf < 0 ? buf.length : lf) - start;
      return seen >= MAX_HEAD_BYTES ? new HttpParseError(tooLarge, `${noun} is larger than ${MAX_HEAD_BYTES} bytes`) : undefined;
    }
    if (lf === lineStart || buf[lf - 1] !== CR) return new HttpParseError(400, `a line of ${noun} ends in a bare LF; HTTP/1.1 lines end in CRLF`);
    if (lf - 1 === lineStart) return lf + 1 - start;
    if (buf.indexOf(CR, lineStart) < lf - 1) return new HttpParseError(400, `a bare CR inside ${noun}`);
    headLines.push(lineStart, lf - 1);
    lineStart = lf + 1;
  }
}

// Whether buf[from, to) has a byte no field value may have.
export function hasBadValueByte(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (VCHAR[buf[i] as number] === 0) return true;
  return false;
}

const isOws = (c: number): boolean => c === 32 || c === 9;

// Where a field value starts and ends once the optional whitespace around it is left out (RFC 9112 5.1).
export function valueStart(buf: Buffer, from: number, to: number): number {
  let at = from;
  while (at < to && isOws(buf[at] as number)) at++;
  return at;
}

export function valueEnd(buf: Buffer, from: number, to: number): number {
  let at = to;
  while (at > from && isOws(buf[at - 1] as number)) at--;
  return at;
}

// Returns undefined while the head is incomplete. Leading blank lines are skipped (RFC 9112 2.2).
// Read from the bytes: one latin1 string for the whole head, cut into the method, target, names and values.
export function parseRequestHead(buf: Buffer, start: number): RequestHead | HttpParseError | undefined {
  let from = start;
  while (buf.length - from >= 2 && buf[from] === CR && buf[from + 1] === LF) from += 2;
  const length = findHeadLines(buf, start, from, 'the request head', 431);
  if (length === undefined || length instanceof HttpParseError) return length;
  if (headLines.length === 0) return new HttpParseError(400, 'the request has no request line');
  return readHead(buf, from, buf.toString('latin1', from, start + length), length);
}

// head: the head's text from `from` (offsets in headLines are the buffer's).
function readHead(buf: Buffer, from: number, head: string, length: number): RequestHead | HttpParseError {
  const requestLine = head.slice(0, (headLines[1] as number) - from);
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return new HttpParseError(400, `malformed request line "${requestLine.slice(0, 200)}": expected "METHOD target HTTP/1.1"`);
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return new HttpParseError(400, `the method "${method.slice(0, 50)}" is not a token`);
  if (!TARGET.test(target)) return new HttpParseError(400, 'the request target has characters that are not visible ASCII');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    return /^HTTP\/\d\.\d$/.test(version) ? new HttpParseError(505, `${version} is not supported here; send HTTP/1.1`) : new HttpParseError(400, `"${version.slice(0, 20)}" is not an HTTP version`);
  }
  const result: RequestHead = {
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
  for (let i = 2; i < headLines.length; i += 2) {
    const s = headLines[i] as number;
    const e = headLines[i + 1] as number;
    const first = buf[s] as number;
    if (first === 32 || first === 9) return new HttpParseError(400, 'a header line is folded (starts with whitespace); obsolete line folding is not accepted');
    let colon = s;
    while (colon < e && buf[colon] !== 58) colon++;
    if (colon === s || colon === e) return new HttpParseError(400, `the header line "${head.slice(s - from, Math.min(e, s + 100) - from)}" has no name`);
    const name = head.slice(s - from, colon - from);
    for (let j = s; j < colon; j++) {
      if (TCHAR[buf[j] as number] === 0) return new HttpParseError(400, `the header name "${name.slice(0, 100)}" is not a token${/[ \t]$/.test(name) ? ' (no whitespace is allowed before the colon)' : ''}`);
    }
    const valueFrom = valueStart(buf, colon + 1, e);
    const valueTo = valueEnd(buf, valueFrom, e);
    if (hasBadValueByte(buf, valueFrom, valueTo)) return new HttpParseError(400, `the value of header "${name}" has control characters`);
    const value = head.slice(valueFrom - from, valueTo - from);
    result.rawHeaders.push(name, value);
    switch (lowerFieldNameIn(buf, s, colon)) {
      case 'host':
        hosts += 1;
        result.host = value;
        break;
      case 'content-length': {
        const contentLengthValue = contentLength(value, result.contentLength);
        if (contentLengthValue instanceof HttpParseError) return contentLengthValue;
        result.contentLength = contentLengthValue;
        break;
      }
      case 'transfer-encoding':
        transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        break;
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const option = token.trim();
          if (option === 'close') result.keepAlive = false;
          else if (option === 'keep-alive' && result.minorVersion === 0) result.keepAlive = true;
          else if (option === 'upgrade') connectionUpgrade = true;
        }
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'expect':
        if (value.toLowerCase() !== '100-continue') return new HttpParseError(417, `the expectation "${value.slice(0, 100)}" cannot be met; only "100-continue" is understood`);
        result.expectContinue = true;
        break;
    }
  }
  if (hosts > 1) return new HttpParseError(400, 'the request has more than one Host header');
  if (hosts === 0 && result.minorVersion === 1) return new HttpParseError(400, 'an HTTP/1.1 request must have a Host header');
  if (transferEncoding !== null) {
    // RFC 9112 6.1-6.3: both framings at once is how requests are smuggled past a proxy; refuse, never pick one.
    if (result.contentLength >= 0) return new HttpParseError(400, 'the request has both Content-Length and Transfer-Encoding');
    if (result.minorVersion === 0) return new HttpParseError(400, 'Transfer-Encoding is not defined for HTTP/1.0');
    const codings = transferEncoding.toLowerCase().split(',').map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      // Other codings before a final chunked are valid HTTP we do not implement; anything else is malformed.
      const wellFormed = codings.at(-1) === 'chunked' && codings.indexOf('chunked') === codings.length - 1 && !codings.includes('');
      return new HttpParseError(wellFormed ? 501 : 400, `Transfer-Encoding "${transferEncoding.slice(0, 100)}" is not supported; only "chunked" is`);
    }
    result.chunked = true;
  }
  if (connectionUpgrade && upgrade !== null) result.upgrade = upgrade;
  return result;
}

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
