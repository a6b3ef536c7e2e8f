// tsmesh/1 wire format between sidecars: frame layout, limits, header blocks, and an incremental frame reader.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { commonFieldNameIn } from '../common-fields.js';
import { headerBag } from '../header-bag.js';

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

// One buffer for a frame whose payload is a few integers and a UTF-8 reason, so it costs one write.
export function textFrame(type: number, flags: number, id: number, prefix: readonly number[], text: string): Buffer {
  const textBytes = Buffer.byteLength(text, 'utf8');
  const length = prefix.length * 4 + textBytes;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(frame, type, flags, id, length);
  let at = FRAME_HEADER_BYTES;
  for (const value of prefix) {
    frame.writeUInt32BE(value >>> 0, at);
    at += 4;
  }
  frame.write(text, at, 'utf8');
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
// Returns the whole HEADERS frame, written straight into one buffer (no text built on the way); its flags and
// stream id are filled in when it is sent (stampFrame), since a client's request waits for a stream slot.
export function encodeHeaderFrame(headers: OutgoingHttpHeaders | IncomingHttpHeaders): Buffer {
  let length = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 1 && name.charCodeAt(0) === 58 /* ':' */) throw new HeaderBlockError(`pseudo-header "${name.toLowerCase()}" has more than one value`);
      for (const item of value) length += name.length + String(item).length + 2;
    } else {
      length += name.length + (typeof value === 'string' ? value.length : String(value).length) + 2;
    }
  }
  // Characters, not bytes; a character that latin1 cannot carry is refused below, so they are the same.
  if (length > MAX_FRAME_PAYLOAD) throw new HeaderBlockError(`the headers take ${length} bytes, more than the ${MAX_FRAME_PAYLOAD} a peer takes`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(frame, Frame.headers, 0, 0, length);
  let at = FRAME_HEADER_BYTES;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name.charCodeAt(0) === 58 && repeatsInOtherCase(headers, name)) throw new HeaderBlockError(`pseudo-header "${name.toLowerCase()}" has more than one value`);
    if (Array.isArray(value)) {
      for (const item of value) at = writeLine(frame, at, name, String(item));
    } else {
      at = writeLine(frame, at, name, typeof value === 'string' ? value : String(value));
    }
  }
  return frame;
}

// The flags and stream id of a frame built ahead of sending (encodeHeaderFrame).
export function stampFrame(frame: Buffer, flags: number, id: number): Buffer {
  frame[4] = flags;
  frame.writeUInt32BE(id, 5);
  return frame;
}

// Object keys are unique, so a pseudo-header can only repeat as another spelling of it (":Path" and ":path").
function repeatsInOtherCase(headers: OutgoingHttpHeaders | IncomingHttpHeaders, name: string): boolean {
  const lower = name.toLowerCase();
  if (lower === name) return false;
  for (const other in headers) if (other !== name && headers[other] !== undefined && other.toLowerCase() === lower) return true;
  return false;
}

// A field name: a lowercase token, after a ':' for a pseudo-header. One definition for both directions.
const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz";
const IS_TOKEN = new Uint8Array(128);
for (let i = 0; i < TOKEN_CHARS.length; i++) IS_TOKEN[TOKEN_CHARS.charCodeAt(i)] = 1;

// Writes "name:value\n" (the name lowercased), checking each character as it goes; returns where the next line starts.
function writeLine(frame: Buffer, start: number, name: string, value: string): number {
  let at = start;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    else if (c >= 128 || (IS_TOKEN[c] === 0 && !(c === 58 && i === 0 && name.length > 1))) throw new HeaderBlockError(`header name "${name.slice(0, 100)}" is not a token`);
    frame[at++] = c;
  }
  if (name.length === 0) throw new HeaderBlockError('header name "" is not a token');
  frame[at++] = 58;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // latin1 keeps a character's low byte only: U+010A would go out as LF and start a header of the sender's choosing.
    if (c > 0xff || c === 13 || c === 10 || c === 0) {
      const what = c > 0xff ? 'a character outside latin1' : 'a CR, LF or NUL';
      throw new HeaderBlockError(`header "${name.toLowerCase()}" has ${what} in its value`);
    }
    frame[at++] = c;
  }
  frame[at++] = 10;
  return at;
}

// Throws HeaderBlockError on anything a well-behaved peer would not send: a peer is authenticated, not trusted.
// Each line is checked byte by byte ("name:value\n", the name a lowercase token after an optional ':', the value
// without CR, LF or NUL); one latin1 string of the block gives the values, and a common name costs no string.
export function decodeHeaders(block: Buffer): IncomingHttpHeaders {
  const headers = headerBag();
  const length = block.length;
  const text = block.toString('latin1');
  let start = 0;
  while (start < length) {
    const nameStart = block[start] === 58 /* ':' */ ? start + 1 : start;
    let at = nameStart;
    for (; at < length; at++) {
      const c = block[at]!;
      if (c >= 128 || IS_TOKEN[c] === 0) break;
    }
    if (at === nameStart || at === length || block[at] !== 58) throw malformedLine(text, start);
    const colon = at;
    for (at = colon + 1; at < length; at++) {
      const c = block[at]!;
      if (c === 10 || c === 13 || c === 0) break;
    }
    if (at === length || block[at] !== 10) throw malformedLine(text, start);
    const name = commonFieldNameIn(block, start, colon) ?? text.slice(start, colon);
    const value = text.slice(colon + 1, at);
    start = at + 1;
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
