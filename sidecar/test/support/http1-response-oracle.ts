// The answer-head parser as it was before it read bytes in place (session 11): the oracle the new one is checked against.
import type { IncomingHttpHeaders } from 'node:http';
import { FIELD_VALUE, fieldValueAt, HttpParseError, readHeadLines, TOKEN } from '../../src/transport/http1-head.js';
import { lowerFieldNameAt } from '../../src/transport/common-fields.js';
import { headerBag } from '../../src/transport/header-bag.js';

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

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: .*)?$/;
const DIGITS = /^[0-9]{1,15}$/;

// undefined while the head is incomplete. headRequest: the answer to HEAD has no body whatever it declares.
export function parseResponseHead(buf: Buffer, start: number, headRequest: boolean): ResponseHead | HttpParseError | undefined {
  const head = readHeadLines(buf, start, start, "the answer's head", 400);
  if (head === undefined || head instanceof HttpParseError) return head;
  if (head.lines.length === 0) return new HttpParseError(400, 'the answer has no status line');
  return readHead(head.lines, head.length, headRequest);
}

function readHead(lines: string[], length: number, headRequest: boolean): ResponseHead | HttpParseError {
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
      if (!DIGITS.test(value) || (contentLength >= 0 && Number(value) !== contentLength)) return new HttpParseError(400, `the answer's Content-Length "${value.slice(0, 50)}" is not one length`);
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
