// The HTTP/1.1 head parsers as they were before they read bytes in place (session 11), line by line through
// strings and regexes: the oracles the byte-level parsers are checked against (http1-parse.test.ts).
import { HttpParseError, MAX_HEAD_BYTES, type RequestHead } from '../../src/transport/http1-head.js';
import type { ResponseHead } from '../../src/transport/http1-response.js';
import { lowerFieldNameAt } from '../../src/transport/common-fields.js';
import { headerBag } from '../../src/transport/header-bag.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A request target: visible ASCII, no spaces.
const TARGET = /^[\x21-\x7e]+$/;
// Field values: visible ASCII, obs-text, spaces and tabs; never CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^[0-9]+$/;
const CR = 13;
const LF = 10;

// Returns undefined while the head is incomplete. Leading blank lines are skipped (RFC 9112 2.2).
export function oracleRequestHead(buf: Buffer, start: number): RequestHead | HttpParseError | undefined {
  let from = start;
  while (buf.length - from >= 2 && buf[from] === CR && buf[from + 1] === LF) from += 2;
  const head = readHeadLines(buf, start, from, 'the request head', 431);
  if (head === undefined || head instanceof HttpParseError) return head;
  if (head.lines.length === 0) return new HttpParseError(400, 'the request has no request line');
  return readHead(head.lines, head.length);
}

// The CRLF-terminated lines of a head, read from `from` up to its blank line; `length` counts from `start`,
// and so does the size limit. undefined while the blank line has not arrived. noun names the head in errors.
function readHeadLines(buf: Buffer, start: number, from: number, noun: string, tooLarge: 400 | 431): { lines: string[]; length: number } | HttpParseError | undefined {
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

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: .*)?$/;
const LENGTH_DIGITS = /^[0-9]{1,15}$/;

// undefined while the head is incomplete. headRequest: the answer to HEAD has no body whatever it declares.
export function oracleResponseHead(buf: Buffer, start: number, headRequest: boolean): ResponseHead | HttpParseError | undefined {
  const head = readHeadLines(buf, start, start, "the answer's head", 400);
  if (head === undefined || head instanceof HttpParseError) return head;
  if (head.lines.length === 0) return new HttpParseError(400, 'the answer has no status line');
  return readResponseHead(head.lines, head.length, headRequest);
}

function readResponseHead(lines: string[], length: number, headRequest: boolean): ResponseHead | HttpParseError {
  const statusLine = STATUS_LINE.exec(lines[0] as string);
  if (statusLine === null) return new HttpParseError(400, `malformed status line "${(lines[0] as string).slice(0, 100)}"`);
  const minor = statusLine[1];
  const status = Number(statusLine[2]);
  const headers = headerBag();
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let keepAlive = minor === '1';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    const name = colon > 0 ? lowerFieldNameAt(line, colon) : '';
    if (!TOKEN.test(name)) return new HttpParseError(400, `the answer's header line "${line.slice(0, 100)}" is malformed`);
    const value = fieldValueAt(line, colon + 1);
    if (!FIELD_VALUE.test(value)) return new HttpParseError(400, `the value of the answer's header "${name}" has control characters`);
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [previous, value];
    if (name === 'content-length') {
      if (!LENGTH_DIGITS.test(value) || (contentLength >= 0 && Number(value) !== contentLength)) return new HttpParseError(400, `the answer's Content-Length "${value.slice(0, 50)}" is not one length`);
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name === 'connection') {
      for (const token of value.toLowerCase().split(',')) {
        const option = token.trim();
        if (option === 'close') keepAlive = false;
        else if (option === 'keep-alive' && minor === '0') keepAlive = true;
      }
    }
  }
  if (headers['content-length'] !== undefined && Array.isArray(headers['content-length'])) headers['content-length'] = String(contentLength);
  const head: ResponseHead = { status, headers, framing: 'none', contentLength, keepAlive, length };
  if (headRequest || status < 200 || status === 204 || status === 304) return head;
  if (transferEncoding !== null) {
    // A length beside chunked coding is how a connection desynchronises; this one is never reused or trusted.
    if (contentLength >= 0) return new HttpParseError(400, 'the answer has both Content-Length and Transfer-Encoding');
    const codings = transferEncoding.toLowerCase().split(',').map((c) => c.trim());
    if (codings.at(-1) !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      // RFC 9112 6.3: without chunked last, the body runs until the connection closes.
      head.framing = 'close';
      head.keepAlive = false;
      return head;
    }
    if (codings.length > 1) return new HttpParseError(400, `the answer's Transfer-Encoding "${transferEncoding.slice(0, 100)}" is not supported; only "chunked" is`);
    head.framing = 'chunked';
  } else if (contentLength >= 0) {
    head.framing = 'length';
  } else {
    head.framing = 'close';
    head.keepAlive = false;
  }
  return head;
}
