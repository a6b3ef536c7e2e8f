// Strict HTTP/1.1 response heads from the local app (RFC 9112): status, headers, and how the body is framed.
import type { IncomingHttpHeaders } from 'node:http';
import { findHeadLines, hasBadValueByte, headLines, HttpParseError, TCHAR, valueEnd, valueStart } from './http1-head.js';
import { lowerFieldNameIn } from './common-fields.js';
import { headerBag } from './header-bag.js';

export interface ResponseHead {
  status: number;
  // Lower-case names; a repeated header becomes an array, which HTTP/2 carries as repeated fields.
  headers: IncomingHttpHeaders;
  // How the body ends: a length, chunked coding, the connection closing, or no body at all.
  framing: 'length' | 'chunked' | 'close' | 'none';
  contentLength: number;
  // Whether the connection may carry another request once this answer has been read.
  keepAlive: boolean;
  // Bytes from the start of the head to just past its blank line.
  length: number;
}

const DIGITS = /^[0-9]{1,15}$/;
// undefined while the head is incomplete. headRequest: the answer to HEAD has no body whatever it declares.
// Read from the bytes: one latin1 string for the whole head, cut into values; a common name costs no string.
export function parseResponseHead(buf: Buffer, start: number, headRequest: boolean): ResponseHead | HttpParseError | undefined {
  const length = findHeadLines(buf, start, start, "the answer's head", 400);
  if (length === undefined || length instanceof HttpParseError) return length;
  if (headLines.length === 0) return new HttpParseError(400, 'the answer has no status line');
  return readHead(buf, start, length, headRequest);
}

const HTTP_1 = [72, 84, 84, 80, 47, 49, 46]; // "HTTP/1."

// "HTTP/1.x NNN" and, optionally, a space and a reason: the status times two plus the minor version, or -1.
function statusOf(buf: Buffer, s: number, e: number): number {
  if (e - s < 12 || (e - s > 12 && buf[s + 12] !== 32)) return -1;
  for (let i = 0; i < 7; i++) if (buf[s + i] !== HTTP_1[i]) return -1;
  const minor = buf[s + 7] as number;
  const d1 = buf[s + 9] as number;
  const d2 = buf[s + 10] as number;
  const d3 = buf[s + 11] as number;
  if ((minor !== 48 && minor !== 49) || buf[s + 8] !== 32 || d1 < 49 || d1 > 57 || d2 < 48 || d2 > 57 || d3 < 48 || d3 > 57) return -1;
  return ((d1 - 48) * 100 + (d2 - 48) * 10 + (d3 - 48)) * 2 + (minor - 48);
}

function readHead(buf: Buffer, start: number, length: number, headRequest: boolean): ResponseHead | HttpParseError {
  // One string for the whole head, cut into values: one call into the Buffer's decoder, not one per field.
  const head = buf.toString('latin1', start, start + length);
  const statusStart = headLines[0] as number;
  const statusEnd = headLines[1] as number;
  const statusLine = statusOf(buf, statusStart, statusEnd);
  if (statusLine < 0) return new HttpParseError(400, `malformed status line "${head.slice(0, Math.min(statusEnd - start, 100))}"`);
  const status = statusLine >> 1;
  const minor = statusLine & 1;
  const headers = headerBag();
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let keepAlive = minor === 1;
  for (let i = 2; i < headLines.length; i += 2) {
    const s = headLines[i] as number;
    const e = headLines[i + 1] as number;
    let colon = s;
    while (colon < e && TCHAR[buf[colon] as number] === 1) colon++;
    if (colon === s || colon === e || buf[colon] !== 58) return new HttpParseError(400, `the answer's header line "${head.slice(s - start, Math.min(e, s + 100) - start)}" is malformed`);
    const name = lowerFieldNameIn(buf, s, colon);
    const from = valueStart(buf, colon + 1, e);
    const to = valueEnd(buf, from, e);
    if (hasBadValueByte(buf, from, to)) return new HttpParseError(400, `the value of the answer's header "${name}" has control characters`);
    const value = head.slice(from - start, to - start);
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [previous, value];
    if (name === 'content-length') {
      if (!DIGITS.test(value) || (contentLength >= 0 && Number(value) !== contentLength)) return new HttpParseError(400, `the answer's Content-Length "${value.slice(0, 50)}" is not one length`);
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name === 'connection') {
      const lower = value.toLowerCase();
      // Nearly every answer says just one of the two.
      if (lower === 'keep-alive') {
        if (minor === 0) keepAlive = true;
      } else if (lower === 'close') {
        keepAlive = false;
      } else {
        for (const token of lower.split(',')) {
          const option = token.trim();
          if (option === 'close') keepAlive = false;
          else if (option === 'keep-alive' && minor === 0) keepAlive = true;
        }
      }
    }
  }
  if (headers['content-length'] !== undefined && Array.isArray(headers['content-length'])) headers['content-length'] = String(contentLength);
  const answer: ResponseHead = { status, headers, framing: 'none', contentLength, keepAlive, length };
  if (headRequest || status < 200 || status === 204 || status === 304) return answer;
  if (transferEncoding !== null) {
    // A length beside chunked coding is how a connection desynchronises; this one is never reused or trusted.
    if (contentLength >= 0) return new HttpParseError(400, 'the answer has both Content-Length and Transfer-Encoding');
    const codings = transferEncoding.toLowerCase().split(',').map((c) => c.trim());
    if (codings.at(-1) !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      // RFC 9112 6.3: without chunked last, the body runs until the connection closes.
      answer.framing = 'close';
      answer.keepAlive = false;
      return answer;
    }
    if (codings.length > 1) return new HttpParseError(400, `the answer's Transfer-Encoding "${transferEncoding.slice(0, 100)}" is not supported; only "chunked" is`);
    answer.framing = 'chunked';
  } else if (contentLength >= 0) {
    answer.framing = 'length';
  } else {
    answer.framing = 'close';
    answer.keepAlive = false;
  }
  return answer;
}
