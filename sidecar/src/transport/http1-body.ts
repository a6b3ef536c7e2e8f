// HTTP/1.1 request bodies off the wire: a declared length, or chunked coding (RFC 9112 7.1) decoded to its data.
import { HttpParseError } from './http1-head.js';

// A chunk-size line (with extensions) or a trailer section longer than this is refused, not buffered.
const MAX_LINE_BYTES = 4 * 1024;
const MAX_TRAILER_BYTES = 16 * 1024;
const HEX = /^[0-9A-Fa-f]{1,12}$/;
const CR = 13;
const LF = 10;

type State = 'length' | 'size' | 'data' | 'data-end' | 'trailers' | 'done';

export class BodyDecoder {
  private state: State;
  // Bytes of data left in the body (length) or in the current chunk (chunked).
  private left: number;
  private trailerBytes = 0;

  // contentLength -1: chunked.
  constructor(contentLength: number) {
    this.state = contentLength >= 0 ? (contentLength === 0 ? 'done' : 'length') : 'size';
    this.left = Math.max(contentLength, 0);
  }

  get done(): boolean {
    return this.state === 'done';
  }

  // Decodes from buf[pos...], handing each piece of data to onData; returns how far it consumed. Bytes of an
  // incomplete size or trailer line stay unconsumed, so the caller keeps them for the next call.
  decode(buf: Buffer, pos: number, onData: (data: Buffer) => void): number | HttpParseError {
    while (pos < buf.length && this.state !== 'done') {
      switch (this.state) {
        case 'length':
        case 'data': {
          const n = Math.min(this.left, buf.length - pos);
          onData(buf.subarray(pos, pos + n));
          pos += n;
          this.left -= n;
          if (this.left === 0) this.state = this.state === 'length' ? 'done' : 'data-end';
          break;
        }
        case 'data-end': {
          if (buf.length - pos < 2) return pos;
          if (buf[pos] !== CR || buf[pos + 1] !== LF) return new HttpParseError(400, 'a chunk of the request body is not followed by CRLF');
          pos += 2;
          this.state = 'size';
          break;
        }
        case 'size': {
          const line = this.line(buf, pos);
          if (line === undefined || line instanceof HttpParseError) return line ?? pos;
          const semicolon = line.indexOf(';');
          const digits = (semicolon < 0 ? line : line.slice(0, semicolon)).replace(/[ \t]+$/, '');
          if (!HEX.test(digits)) return new HttpParseError(400, `"${line.slice(0, 50)}" is not a chunk size`);
          pos += line.length + 2;
          this.left = parseInt(digits, 16);
          this.state = this.left === 0 ? 'trailers' : 'data';
          break;
        }
        case 'trailers': {
          const line = this.line(buf, pos);
          if (line === undefined || line instanceof HttpParseError) return line ?? pos;
          pos += line.length + 2;
          this.trailerBytes += line.length + 2;
          // Trailers are dropped: the app's HTTP/1.1 trailers have no HTTP/2 counterpart the peer app asked for.
          if (this.trailerBytes > MAX_TRAILER_BYTES) return new HttpParseError(431, `the request's trailers are larger than ${MAX_TRAILER_BYTES} bytes`);
          if (line.length === 0) this.state = 'done';
          break;
        }
      }
    }
    return pos;
  }

  // The CRLF-terminated line at pos, without its CRLF; undefined until it is complete.
  private line(buf: Buffer, pos: number): string | HttpParseError | undefined {
    const lf = buf.indexOf(LF, pos);
    if (lf < 0) return buf.length - pos > MAX_LINE_BYTES ? new HttpParseError(400, `a chunk-size or trailer line is longer than ${MAX_LINE_BYTES} bytes`) : undefined;
    if (lf - pos > MAX_LINE_BYTES) return new HttpParseError(400, `a chunk-size or trailer line is longer than ${MAX_LINE_BYTES} bytes`);
    if (lf === pos || buf[lf - 1] !== CR) return new HttpParseError(400, 'a line of the chunked body ends in a bare LF');
    const line = buf.toString('latin1', pos, lf - 1);
    if (line.includes('\r')) return new HttpParseError(400, 'a bare CR inside the chunked body framing');
    return line;
  }
}
