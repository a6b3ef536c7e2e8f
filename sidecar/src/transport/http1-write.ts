// Writing HTTP/1.1 by hand: a status line, a head from a header map, and one chunk of a chunked body.
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

// True for a field the head leaves out (pseudo-headers are always left out).
export type FieldFilter = (name: string) => boolean;
export const KEEP_ALL: FieldFilter = () => false;

const statusLines: string[] = [];

// "HTTP/1.1 404 Not Found\r\n", made once per status.
export function statusLine(status: number): string {
  return (statusLines[status] ??= `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`);
}

// Builds one HTTP/1.1 head at a time in a scratch buffer that every head reuses; done() copies it out.
// As one string a head was a rope of a few pieces per field, flattened again for the socket; this
// allocates the bytes of the head alone. Characters go out as their low byte, as
// socket.write(text, 'latin1') sent them. Synchronous use only: start() to done() in one go.
export class HeadBuilder {
  private scratch = Buffer.allocUnsafe(4 * 1024);
  private at = 0;

  start(): this {
    this.at = 0;
    return this;
  }

  text(text: string): this {
    this.room(text.length);
    const scratch = this.scratch;
    let at = this.at;
    // A typed array keeps a number's low byte, which is what latin1 encoding keeps of a character.
    for (let i = 0; i < text.length; i++) scratch[at++] = text.charCodeAt(i);
    this.at = at;
    return this;
  }

  line(name: string, value: string): this {
    return this.text(name).text(': ').text(value).text('\r\n');
  }

  // Every field of `headers` but pseudo-headers, undefined values and those `omit` names; a list is a line per value.
  fields(headers: OutgoingHttpHeaders | IncomingHttpHeaders, omit: FieldFilter): this {
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || name.charCodeAt(0) === 58 /* ':' */ || omit(name)) continue;
      if (Array.isArray(value)) for (const item of value) this.line(name, String(item));
      else this.line(name, typeof value === 'string' ? value : String(value));
    }
    return this;
  }

  // The blank line that ends the head, and the head (followed by `body`, if given) as a buffer of its own.
  done(body?: Buffer): Buffer {
    this.text('\r\n');
    const head = Buffer.allocUnsafe(this.at + (body?.length ?? 0));
    this.scratch.copy(head, 0, 0, this.at);
    body?.copy(head, this.at);
    return head;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.scratch.length) return;
    const larger = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.at + bytes));
    this.scratch.copy(larger, 0, 0, this.at);
    this.scratch = larger;
  }
}

// One builder for the whole process: a head is built and copied out before anything else runs.
export const http1Head = new HeadBuilder();

// One chunk (RFC 9112 7.1) in one corked write; false when the socket asks the writer to wait for 'drain'.
export function writeChunk(socket: Socket, chunk: Buffer): boolean {
  socket.cork();
  socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
  socket.write(chunk);
  const more = socket.write('\r\n', 'latin1');
  socket.uncork();
  return more;
}
