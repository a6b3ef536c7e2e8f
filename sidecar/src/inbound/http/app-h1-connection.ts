// One keep-alive connection to the local app, one request at a time: the answer framed as it arrives.
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BodyDecoder } from '../../transport/http1-body.js';
import { HttpParseError } from '../../transport/http1-head.js';
import { parseResponseHead, type ResponseHead } from '../../transport/http1-response.js';

// The answer's buffer: past this much unread, the app's socket stops being read (the app is held back).
const ANSWER_BUFFER_BYTES = 64 * 1024;

export interface ExchangeResult {
  head: ResponseHead;
  // A Buffer when the whole body came in the same read as the head (nearly every small answer).
  body: Readable | Buffer;
}

const NO_BODY = Buffer.alloc(0);

// Every app connection reads into this one buffer (net's onread): no Buffer of its own and no stream push
// per read. Reads are handled one at a time, and what outlives one (a partial head, a body) is copied out.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

// What one request reports; exactly one of answered/failed first, then finished once.
export interface ExchangeEvents {
  answered(result: ExchangeResult): void;
  // Before an answer: the request failed (the app closed, reset, or sent something unreadable).
  failed(error: Error & { code?: string }): void;
  // reusable: the connection is clean (request sent, answer read to its end, keep-alive on both sides).
  finished(reusable: boolean): void;
}

// Listeners are set once per connection, not per request: per-request listeners and closures were
// a measurable share of the server sidecar's allocations.
export class AppConnection {
  private events: ExchangeEvents | null = null;
  private headRequest = false;
  private requestSent = false;
  private pending: Buffer | null = null;
  private head: ResponseHead | null = null;
  private body: Readable | null = null;
  private decoder: BodyDecoder | null = null;

  readonly socket: Socket;

  // A new connection to the app at host:port; its bytes come to read() through net's onread, not as 'data' events.
  constructor(
    host: string,
    port: number,
    idleTimeoutMs: number,
    // The connection closed or went bad while idle; the pool forgets it.
    private readonly lostWhileIdle: (connection: AppConnection) => void,
  ) {
    const socket = connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onread } });
    this.socket = socket;
    socket.on('end', () => this.closed(null));
    socket.on('close', () => this.closed(Object.assign(new Error('the app closed the connection'), { code: 'ECONNRESET' })));
    socket.on('error', (error: Error) => this.closed(error));
    // Inactivity: an idle connection is dropped; a busy one (a long poll) is the route timeout's business.
    socket.setTimeout(idleTimeoutMs, () => {
      if (this.events === null) socket.destroy();
    });
  }

  get idle(): boolean {
    return this.events === null && !this.socket.destroyed;
  }

  begin(headRequest: boolean, events: ExchangeEvents): void {
    this.events = events;
    this.headRequest = headRequest;
    this.requestSent = false;
    this.pending = null;
    this.head = null;
    this.body = null;
    this.decoder = null;
  }

  // The whole request was written (an upload may still be running when the answer arrives).
  sent(): void {
    this.requestSent = true;
  }

  // The caller gave up (peer cancelled, answer dropped): the app sees its connection close.
  abort(): void {
    if (this.events !== null) this.socket.destroy();
  }

  private readonly onread = (bytes: number): boolean => {
    // pause(), not onread's `return false`: that stops reading without the stream knowing it is paused.
    if (!this.read(bytes) && !this.socket.destroyed) this.socket.pause();
    return true;
  };

  // bytes arrived at the start of the shared read buffer; false: pause the socket (the answer's reader is full).
  private read(bytes: number): boolean {
    // An idle connection that speaks is out of step with the app: it is not reused.
    if (this.events === null) {
      this.socket.destroy();
      return false;
    }
    const chunk = READ_BUFFER.subarray(0, bytes);
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    while (this.head === null) {
      const head = parseResponseHead(buf, 0, this.headRequest);
      if (head === undefined) {
        this.pending = Buffer.from(buf);
        return true;
      }
      if (head instanceof HttpParseError) {
        this.malformed(`the app's answer is malformed: ${head.message}`);
        return false;
      }
      buf = buf.subarray(head.length);
      // Informational answers (100 Continue, 103 Early Hints) come before the real one.
      if (head.status < 200) continue;
      const whole = wholeBody(head, buf);
      if (whole !== null) {
        this.answeredWhole(head, whole.length === 0 ? NO_BODY : Buffer.from(whole), buf.length > whole.length);
        return true;
      }
      this.start(head);
    }
    if (buf.length === 0) return true;
    // Bytes after a whole answer: the app spoke out of turn, and the connection is not reused.
    if (this.events === null) {
      this.socket.destroy();
      return false;
    }
    return this.readBody(buf);
  }

  // No stream for a body that is all here: the exchange is over as it is answered.
  private answeredWhole(head: ResponseHead, body: Buffer, bytesAfter: boolean): void {
    this.head = head;
    const events = this.events as ExchangeEvents;
    events.answered({ head, body });
    this.finish(this.requestSent && head.keepAlive);
    // Bytes after a whole answer: the app spoke out of turn, and the connection is not reused.
    if (bytesAfter) this.socket.destroy();
  }

  private start(head: ResponseHead): void {
    this.head = head;
    const socket = this.socket;
    const body = new Readable({
      highWaterMark: ANSWER_BUFFER_BYTES,
      read: () => {
        if (this.body === body && socket.isPaused()) socket.resume();
      },
      destroy: (error, callback) => {
        // Whoever reads the answer stopped early (the peer reset the stream): stop the app's work too.
        if (this.body === body && this.events !== null) socket.destroy();
        callback(error);
      },
    });
    this.body = body;
    if (head.framing === 'length' || head.framing === 'chunked') this.decoder = new BodyDecoder(head.framing === 'chunked' ? -1 : head.contentLength);
    (this.events as ExchangeEvents).answered({ head, body });
    if (head.framing === 'none' || this.decoder?.done === true) this.bodyEnded();
  }

  // buf may be the shared read buffer: what the body's reader gets is a copy. false: the reader is full, pause.
  private readBody(buf: Buffer): boolean {
    const body = this.body as Readable;
    if (this.head?.framing === 'close') return body.push(Buffer.from(buf));
    const decoder = this.decoder as BodyDecoder;
    let full = false;
    const consumed = decoder.decode(buf, 0, (data) => {
      if (!body.push(Buffer.from(data))) full = true;
    });
    if (consumed instanceof HttpParseError) {
      this.malformed(`the app's answer body is malformed: ${consumed.message}`);
      return false;
    }
    if (decoder.done) {
      this.bodyEnded();
      if (consumed < buf.length) this.socket.destroy();
      return true;
    }
    if (consumed < buf.length) this.pending = Buffer.from(buf.subarray(consumed));
    return !full;
  }

  // The app answered before the upload ended (a 413, say): the connection is closed, and the rest of the upload dropped.
  private bodyEnded(): void {
    this.decoder = null;
    this.body?.push(null);
    this.finish(this.requestSent && (this.head as ResponseHead).keepAlive);
  }

  // error null: the app closed its side cleanly, which ends an answer framed by the connection closing.
  private closed(error: (Error & { code?: string }) | null): void {
    if (this.events === null) {
      this.socket.destroy();
      return this.lostWhileIdle(this);
    }
    if (error === null && this.head?.framing === 'close' && this.body !== null) {
      this.body.push(null);
      return this.finish(false);
    }
    this.fail(error ?? Object.assign(new Error('the app closed the connection'), { code: 'ECONNRESET' }));
  }

  private malformed(message: string): void {
    this.fail(Object.assign(new Error(message), { code: 'ERR_MALFORMED_ANSWER' }));
  }

  private fail(error: Error & { code?: string }): void {
    const events = this.events;
    const body = this.body;
    this.finish(false);
    // Mid-answer, the body closes without ending: the relay resets the caller's stream. No 'error' event:
    // nobody listens for one on an answer body, and an unheard one would crash the sidecar.
    if (body !== null) {
      if (!body.readableEnded) body.destroy();
    } else {
      events?.failed(error);
    }
  }

  private finish(reusable: boolean): void {
    const events = this.events;
    if (events === null) return;
    this.events = null;
    this.body = null;
    this.pending = null;
    if (!reusable) this.socket.destroy();
    events.finished(reusable);
  }
}

// The answer's body when it is all in `rest` (what followed the head in this read), else null.
function wholeBody(head: ResponseHead, rest: Buffer): Buffer | null {
  if (head.framing === 'none') return NO_BODY;
  if (head.framing !== 'length' || rest.length < head.contentLength) return null;
  return rest.length === head.contentLength ? rest : rest.subarray(0, head.contentLength);
}
