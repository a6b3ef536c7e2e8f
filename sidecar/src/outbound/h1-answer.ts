// The answer to one app request, written by hand: status line, headers, and the body framed as HTTP/1.1 needs.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { MeshError } from '../errors.js';
import { answerFor } from '../errors-respond.js';
import type { RequestHead } from '../transport/http1-head.js';
import { http1Head, KEEP_ALL, statusLine, writeChunk, type FieldFilter, type HeadBuilder } from '../transport/http1-write.js';

let dateSecond = 0;
let dateText = '';

// node:http adds Date to every answer that lacks one (RFC 9110 6.6.1); formatted once per second, as Node does.
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

export class H1Answer {
  headSent = false;
  finished = false;
  // Whether the connection stays open after this answer; HTTP/1.0 answers without a length end by closing.
  keepAlive: boolean;
  private closed = false;
  private chunked = false;
  // Held until the first body bytes or the end, as node:http does: a small answer leaves in one write.
  private pendingHead: Buffer | null = null;
  private bodyAllowed = true;
  private onAbort: (() => void) | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly head: RequestHead,
    private readonly done: () => void,
  ) {
    this.keepAlive = head.keepAlive;
  }

  // Called once if the app's connection goes away before the whole answer went out.
  whenAborted(callback: () => void): void {
    this.onAbort = callback;
  }

  get aborted(): boolean {
    return this.closed;
  }

  connectionClosed(): void {
    if (this.finished || this.closed) return;
    this.closed = true;
    this.onAbort?.();
  }

  // omit: the fields of `headers` that stay out of the head (pseudo-headers always do).
  writeHead(status: number, headers: OutgoingHttpHeaders | IncomingHttpHeaders, omit: FieldFilter = KEEP_ALL): void {
    const head = this.startHead(status, headers, omit, -1);
    if (head !== null) this.pendingHead = head.done();
  }

  // An answer whose body is all here, in one write: the head (with the body's length if the peer's head
  // had none, so no chunked framing) and the body.
  writeWhole(status: number, headers: OutgoingHttpHeaders | IncomingHttpHeaders, omit: FieldFilter, body: Buffer): void {
    const declared = headers['content-length'];
    const head = this.startHead(status, headers, omit, body.length);
    if (head === null) return;
    if (this.bodyAllowed && declared !== undefined && Number(declared) !== body.length) {
      // Not what its head said: relayed as it is, as a streamed body would be.
      this.pendingHead = head.done();
      this.write(body);
      return this.end();
    }
    this.finished = true;
    this.socket.write(this.bodyAllowed && body.length > 0 ? head.done(body) : head.done());
    this.done();
  }

  // wholeLength: the body's length when it is known whole, else -1.
  private startHead(status: number, headers: OutgoingHttpHeaders | IncomingHttpHeaders, omit: FieldFilter, wholeLength: number): HeadBuilder | null {
    if (this.closed || this.headSent) return null;
    this.headSent = true;
    this.bodyAllowed = this.head.method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200;
    const head = http1Head.start().text(statusLine(status)).fields(headers, omit);
    if (headers['date'] === undefined) head.line('date', httpDate());
    if (this.bodyAllowed && headers['content-length'] === undefined) {
      if (wholeLength >= 0) {
        head.line('content-length', String(wholeLength));
      } else if (this.head.minorVersion === 1) {
        this.chunked = true;
        head.text('transfer-encoding: chunked\r\n');
      } else {
        this.keepAlive = false;
      }
    }
    if (!this.keepAlive) head.text('connection: close\r\n');
    else if (this.head.minorVersion === 0) head.text('connection: keep-alive\r\n');
    return head;
  }

  // false: the app reads slower than the peer sends; wait for whenDrained.
  write(chunk: Buffer): boolean {
    if (this.closed || !this.bodyAllowed || chunk.length === 0) return true;
    const socket = this.socket;
    socket.cork();
    this.flushHead();
    const more = this.chunked ? writeChunk(socket, chunk) : socket.write(chunk);
    socket.uncork();
    return more;
  }

  private flushHead(): void {
    if (this.pendingHead === null) return;
    this.socket.write(this.pendingHead);
    this.pendingHead = null;
  }

  whenDrained(callback: () => void): void {
    this.socket.once('drain', callback);
  }

  end(): void {
    if (this.closed || this.finished) return;
    this.finished = true;
    this.socket.cork();
    this.flushHead();
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.socket.uncork();
    this.done();
  }

  // Once the status line is out, a wrong body is worse than a cut connection: the app must see a failure.
  fail(error: MeshError): void {
    if (this.closed || this.finished) return;
    if (this.headSent) return this.destroy();
    const answer = answerFor(error);
    this.writeHead(answer.status, answer.headers);
    this.write(Buffer.from(answer.body));
    this.end();
  }

  // The peer's answer broke off: cut the connection so the app sees it truncated.
  destroy(): void {
    this.socket.destroy();
  }
}
