// An app's HTTP/1.1 connection to the outbound listener, framed on the raw socket: heads, bodies, answers in order.
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BodyDecoder } from '../transport/http1-body.js';
import { HttpParseError, parseRequestHead, type RequestHead } from '../transport/http1-head.js';
import { H1Answer } from './h1-answer.js';

export interface H1Exchange {
  head: RequestHead;
  // null when the request has no body (no Content-Length above 0, not chunked).
  body: Readable | null;
  answer: H1Answer;
}

export interface H1ConnectionHandlers {
  request(exchange: H1Exchange): void;
  // Connection: upgrade. The socket is the handler's from here on; rest is what the app sent after the head.
  upgrade(head: RequestHead, socket: Socket, rest: Buffer): void;
  // Malformed input, or CONNECT: answer and close.
  refuse(socket: Socket, error: HttpParseError | string): void;
  idleTimeoutMs: number;
  headTimeoutMs: number;
}

// Pipelined requests queue as bytes; past this much the socket stops being read until the answers catch up.
const MAX_QUEUED_BYTES = 64 * 1024;

// A request body as a stream: reading resumes the app's socket, a full buffer pauses it.
class RequestBody extends Readable {
  constructor(private readonly connection: H1Connection) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    this.connection.bodyWanted();
  }
}

export function serveHttp1(socket: Socket, handlers: H1ConnectionHandlers): void {
  new H1Connection(socket, handlers).start();
}

class H1Connection {
  private pending: Buffer | null = null;
  private exchange: H1Exchange | null = null;
  private body: RequestBody | null = null;
  private decoder: BodyDecoder | null = null;
  private headTimer: NodeJS.Timeout | null = null;
  private appEnded = false;
  private detached = false;
  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.process();
  };

  constructor(
    private readonly socket: Socket,
    private readonly handlers: H1ConnectionHandlers,
  ) {}

  start(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    // Armed once: node restarts it on every read and write. A request waiting for its answer (or its body)
    // is not idle; rearming per request cost a timer object and a bound function each time.
    socket.setTimeout(this.handlers.idleTimeoutMs);
    socket.on('timeout', () => {
      if (this.detached) return;
      if (this.exchange === null && this.decoder === null) socket.destroy();
      else socket.setTimeout(this.handlers.idleTimeoutMs);
    });
    socket.on('data', this.onData);
    socket.on('end', () => {
      this.appEnded = true;
      // Half-closed in the middle of a body: the rest never comes.
      if (this.decoder !== null) this.body?.destroy(new Error('the app closed its side of the connection before the request body was complete'));
      if (this.exchange === null) socket.end();
      // A FIN while a whole request waits for its answer: the app went away (node:http and Envoy read it so
      // too), and the peer is told to stop, instead of working on until the route's timeout.
      else if (this.decoder === null) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clearHeadTimer();
      if (this.decoder !== null) this.body?.destroy(new Error('the app closed the connection before the request body was complete'));
      this.exchange?.answer.connectionClosed();
    });
    socket.resume();
  }

  bodyWanted(): void {
    if (!this.detached && this.socket.isPaused()) this.socket.resume();
  }

  private process(): void {
    while (this.pending !== null && !this.detached) {
      const buf = this.pending;
      if (this.decoder !== null) {
        if (!this.readBody(buf)) return;
        continue;
      }
      if (this.exchange !== null) {
        // A pipelined request waits for the answer before it: answers go out in order.
        if (buf.length > MAX_QUEUED_BYTES) this.socket.pause();
        return;
      }
      const head = parseRequestHead(buf, 0);
      if (head === undefined) {
        this.startHeadTimer();
        return;
      }
      if (this.clearHeadTimer()) this.socket.setTimeout(this.handlers.idleTimeoutMs);
      if (head instanceof HttpParseError) return this.refuse(head);
      this.pending = head.length < buf.length ? buf.subarray(head.length) : null;
      this.begin(head);
    }
  }

  // Decodes body bytes into the body stream; false when it has to wait (more bytes, or a reader).
  private readBody(buf: Buffer): boolean {
    const decoder = this.decoder as BodyDecoder;
    const body = this.body;
    let full = false;
    const consumed = decoder.decode(buf, 0, (data) => {
      // A body nobody reads any more (the answer went out first) is read to its end and dropped.
      if (body !== null && !body.destroyed && !body.push(data)) full = true;
    });
    if (consumed instanceof HttpParseError) {
      body?.destroy(new Error(`malformed request body: ${consumed.message}`));
      this.refuse(consumed);
      return false;
    }
    this.pending = consumed < buf.length ? buf.subarray(consumed) : null;
    if (decoder.done) {
      this.decoder = null;
      this.body = null;
      if (body !== null && !body.destroyed) body.push(null);
      if (this.exchange === null) return true;
    }
    if (full) this.socket.pause();
    return this.pending !== null && this.decoder === null;
  }

  private begin(head: RequestHead): void {
    if (head.method === 'CONNECT') return this.refuse('outbound/target: CONNECT tunnels are not carried by the mesh; send plain HTTP');
    if (head.upgrade !== null) {
      this.detached = true;
      this.socket.off('data', this.onData);
      this.socket.setTimeout(0);
      this.socket.pause();
      const rest = this.pending ?? Buffer.alloc(0);
      this.pending = null;
      this.handlers.upgrade(head, this.socket, rest);
      return;
    }
    const hasBody = head.chunked || head.contentLength > 0;
    const body = hasBody ? new RequestBody(this) : null;
    if (body !== null) {
      // A body cut short is destroyed with an error, which may come before the pipeline listens for one.
      body.on('error', () => undefined);
      this.decoder = new BodyDecoder(head.chunked ? -1 : head.contentLength);
      this.body = body;
      // What node:http does unasked: the app may wait for this before it sends the body.
      if (head.expectContinue && head.minorVersion === 1) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    const answer = new H1Answer(this.socket, head, () => this.answered(answer));
    this.exchange = { head, body, answer };
    this.handlers.request(this.exchange);
  }

  // The answer is out: close if either side asked to, else read the next request.
  private answered(answer: H1Answer): void {
    this.exchange = null;
    // The answer went out before the whole body came in (a 413, say): the rest is read and dropped, as node:http does.
    if (this.decoder !== null && this.body !== null) {
      this.body.destroy();
      this.body = null;
    }
    // An answer after the app's FIN can only be to a request whose body the FIN cut short (a FIN while a whole
    // request waits closes the connection at once): nothing more is read.
    if (!answer.keepAlive || this.appEnded) {
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    if (this.pending !== null) this.process();
  }

  private refuse(error: HttpParseError | string): void {
    this.detached = true;
    this.clearHeadTimer();
    this.socket.off('data', this.onData);
    const exchange = this.exchange;
    // The request in flight (its body was malformed) is cancelled, and its answer will not be written.
    exchange?.answer.connectionClosed();
    if (exchange !== null && exchange.answer.headSent) this.socket.destroy();
    else this.handlers.refuse(this.socket, error);
  }

  // A head that takes longer than this to arrive is a stuck or slowloris client (node:http: headersTimeout).
  private startHeadTimer(): void {
    if (this.headTimer !== null) return;
    this.socket.setTimeout(0);
    this.headTimer = setTimeout(() => this.refuse(new HttpParseError(408, `the request head did not arrive within ${this.handlers.headTimeoutMs} ms`)), this.handlers.headTimeoutMs);
    this.headTimer.unref();
  }

  // Whether a head timer was running (the idle timer was off meanwhile).
  private clearHeadTimer(): boolean {
    if (this.headTimer === null) return false;
    clearTimeout(this.headTimer);
    this.headTimer = null;
    return true;
  }
}
