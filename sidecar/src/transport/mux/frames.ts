// tsmesh/1 wire format between sidecars: frame layout, limits, header blocks, and an incremental frame reader.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export const ALPN_MUX = 'tsmesh/1';

// [u24 payload length][u8 type][u8 flags][u32 stream id], as HTTP/2 lays out its frames.
export const FRAME_HEADER_BYTES = 9;
export const MAX_FRAME_PAYLOAD = 64 * 1024;
// Per stream and direction: how many body bytes may be in flight before the reader grants more.
export const INITIAL_WINDOW = 256 * 1024;
// Per connection and direction: all streams' unread body bytes together; WINDOW on stream 0 grants more.
export const CONNECTION_WINDOW = 4 * 1024 * 1024;
export const MAX_CREDIT = 2 ** 31 - 1;
export const DEFAULT_MAX_STREAMS = 1_000;
// Until the server's HELLO says otherwise, a client keeps to this many concurrent streams.
export const CLIENT_STREAMS_BEFORE_HELLO = 100;
export const MAX_REASON_BYTES = 1_024;

export const Frame = {
  data: 0x0,
  headers: 0x1,
  reset: 0x3,
  hello: 0x4,
  drain: 0x7,
  window: 0x8,
} as const;

export const FLAG_END = 0x1;

// Reset and drain codes are HTTP/2's (RFC 9113 7), so the layers above read one set of codes for both transports.
export const Code = {
  noError: 0x0,
  protocol: 0x1,
  internal: 0x2,
  flowControl: 0x3,
  refused: 0x7,
  cancel: 0x8,
} as const;

export function frameHeader(type: number, flags: number, id: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(header, type, flags, id, length);
  return header;
}

function writeFrameHeader(target: Buffer, type: number, flags: number, id: number, length: number): void {
  target[0] = length >>> 16;
  target[1] = (length >>> 8) & 0xff;
  target[2] = length & 0xff;
  target[3] = type;
  target[4] = flags;
  target.writeUInt32BE(id, 5);
}

// One buffer for a frame whose payload is text (a header block) or a few integers, so it costs one write.
export function textFrame(type: number, flags: number, id: number, prefix: readonly number[], text: string): Buffer {
  // Header blocks are latin1 by definition; reasons are UTF-8.
  const encoding = type === Frame.headers ? 'latin1' : 'utf8';
  const textBytes = Buffer.byteLength(text, encoding);
  const length = prefix.length * 4 + textBytes;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(frame, type, flags, id, length);
  let at = FRAME_HEADER_BYTES;
  for (const value of prefix) {
    frame.writeUInt32BE(value >>> 0, at);
    at += 4;
  }
  frame.write(text, at, encoding);
  return frame;
}

export function reasonText(reason: string): string {
  // A reason is for people reading logs; cut on a character boundary well inside the byte limit.
  if (reason.length <= MAX_REASON_BYTES / 4) return reason;
  let end = MAX_REASON_BYTES / 4 - 3;
  // Not between the halves of a surrogate pair: a lone half goes out as U+FFFD.
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${reason.slice(0, end)}...`;
}

export class HeaderBlockError extends Error {}

// A header block is latin1 text, one "name:value\n" per field; pseudo-headers (":status", ":path") first by
// convention. Names are lowercase tokens, so the first ':' after the name's first character ends it.
// Checked here as strictly as decodeHeaders checks: the peer fails the whole connection on a bad block.
export function encodeHeaders(headers: OutgoingHttpHeaders | IncomingHttpHeaders): string {
  let text = '';
  // Pseudo-headers seen so far, as " :name" pieces: a handful at most, so no Set per request.
  let pseudo = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (!FIELD_NAME.test(key)) throw new HeaderBlockError(`header name "${name.slice(0, 100)}" is not a token`);
    if (key.charCodeAt(0) === 58 /* ':' */) {
      if (pseudo.includes(` ${key} `) || (Array.isArray(value) && value.length > 1)) throw new HeaderBlockError(`pseudo-header "${key}" has more than one value`);
      pseudo += ` ${key} `;
    }
    if (Array.isArray(value)) {
      for (const item of value) text += line(key, String(item));
    } else {
      text += line(key, String(value));
    }
  }
  if (text.length > MAX_FRAME_PAYLOAD) throw new HeaderBlockError(`the headers take ${text.length} bytes, more than the ${MAX_FRAME_PAYLOAD} a peer takes`);
  return text;
}

// A field name: a lowercase token, after a ':' for a pseudo-header. One definition for both directions.
const NAME = ":?[!#$%&'*+\\-.^_`|~0-9a-z]+";
const FIELD_NAME = new RegExp(`^${NAME}$`);
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
// latin1 encoding keeps a character's low byte only: U+010A would go out as LF and start a header of the sender's choosing.
const UNSENDABLE_IN_VALUE = /[\r\n\0\u0100-\uffff]/;

function line(name: string, value: string): string {
  // One scan for the common case; which rule was broken is worked out only for the error.
  if (UNSENDABLE_IN_VALUE.test(value)) {
    const what = FORBIDDEN_IN_VALUE.test(value) ? 'a CR, LF or NUL' : 'a character outside latin1';
    throw new HeaderBlockError(`header "${name}" has ${what} in its value`);
  }
  return `${name}:${value}\n`;
}

// Sticky: it checks the line where the scan stands, so no line is cut out of the block to be tested.
const FIELD_LINE = new RegExp(`${NAME}:[^\\r\\n\\0]*\\n`, 'y');

// Throws HeaderBlockError on anything a well-behaved peer would not send: a peer is authenticated, not trusted.
export function decodeHeaders(block: Buffer): IncomingHttpHeaders {
  const headers = Object.create(null) as IncomingHttpHeaders;
  const text = block.toString('latin1');
  let start = 0;
  while (start < text.length) {
    FIELD_LINE.lastIndex = start;
    if (!FIELD_LINE.test(text)) throw malformedLine(text, start);
    const end = FIELD_LINE.lastIndex - 1;
    const colon = text.indexOf(':', start + 1);
    const name = text.slice(start, colon);
    const value = text.slice(colon + 1, end);
    start = end + 1;
    const existing = headers[name];
    if (existing === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (name.charCodeAt(0) === 58 /* ':' */) {
      throw new HeaderBlockError(`pseudo-header "${name}" appears twice`);
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      headers[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return headers;
}

function malformedLine(text: string, start: number): HeaderBlockError {
  const end = text.indexOf('\n', start);
  if (end < 0) return new HeaderBlockError('the header block does not end with a newline');
  return new HeaderBlockError(`malformed header line "${text.slice(start, Math.min(end, start + 100))}"`);
}

export interface FrameHandler {
  frame(type: number, flags: number, id: number, payload: Buffer): void;
  // The byte stream cannot be read as frames any more; the connection must end.
  malformed(reason: string): void;
}

// Cuts a byte stream into frames; a frame split across reads is kept until its last byte arrives.
export class FrameReader {
  private pending: Buffer | null = null;
  private failed = false;

  constructor(private readonly handler: FrameHandler) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_BYTES) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > MAX_FRAME_PAYLOAD) {
        this.failed = true;
        this.handler.malformed(`a frame of ${length} bytes, more than the ${MAX_FRAME_PAYLOAD} allowed`);
        return;
      }
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      this.handler.frame(buf[pos + 3]!, buf[pos + 4]!, id, buf.subarray(pos + FRAME_HEADER_BYTES, end));
      pos = end;
      if (this.failed) return;
    }
    if (pos < buf.length) this.pending = buf.subarray(pos);
  }

  // Stop reading: what follows a connection error is not looked at.
  stop(): void {
    this.failed = true;
    this.pending = null;
  }
}
