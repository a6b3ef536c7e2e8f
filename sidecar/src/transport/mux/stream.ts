// One tsmesh/1 exchange as a Duplex: the body out with credit-based flow control, the body in with credit granted as it is read.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Duplex, type DuplexOptions } from 'node:stream';
import { Code, encodeHeaderFrame, FLAG_END, HeaderBlockError, INITIAL_WINDOW, MAX_CREDIT, MAX_FRAME_PAYLOAD } from './frames.js';
import { ReceiveCredit } from './receive-credit.js';
import type { StreamLink } from './stream-link.js';

const EMPTY = Buffer.alloc(0);

// Node documents Duplex's readable/writable options (false: that side starts ended); @types/node 20 lacks them.
type EndableDuplexOptions = DuplexOptions & { readable: boolean; writable: boolean };

function duplexOptions(client: boolean, requestEnds: boolean): EndableDuplexOptions {
  return { allowHalfOpen: true, writable: !(requestEnds && client), readable: !(requestEnds && !client) };
}

interface BlockedWrite {
  chunk: Buffer;
  offset: number;
  done: (error?: Error | null) => void;
}

// The subset of node:http2's stream that the layers use (close(code), rstCode, respond, endAfterHeaders),
// so the pipeline handles either transport without knowing which one carries the exchange.
export class MuxStream extends Duplex {
  // Set once the stream is closed: NO_ERROR after both ends, else the reset's code.
  rstCode: number | undefined;
  // Why the stream was reset, for the error the caller sees.
  resetReason = '';
  headersSent = false;
  // The peer's HEADERS ended its side: no body follows.
  endAfterHeaders = false;
  private headersReceived: boolean;
  private localEnded = false;
  private remoteEnded = false;
  // The peer's END arrived (remoteEnded is also set by a reset).
  private endReceived = false;
  private settledOnce = false;
  // A client stream waits for a free stream slot before its HEADERS go out; until then it has no credit.
  private started: boolean;
  private sendCredit: number;
  private readonly received: ReceiveCredit;
  private blocked: BlockedWrite | null = null;
  private finalPending: ((error?: Error | null) => void) | null = null;

  // requestEnds: the request has no body. On a client stream its HEADERS carry END; on a server stream
  // (requestFrame null) the peer's did. That side of the Duplex is made ended from the start: no end()
  // or push(null), whose events and ticks were a measurable share of each exchange's cost.
  constructor(
    readonly id: number,
    private readonly link: StreamLink,
    started: boolean,
    // A client's request HEADERS frame, sent when the stream starts; null on the server's side.
    private readonly requestFrame: Buffer | null = null,
    private readonly requestEnds = false,
  ) {
    super(duplexOptions(requestFrame !== null, requestEnds));
    this.received = new ReceiveCredit(id, link);
    this.started = started;
    // A server stream exists because its HEADERS arrived.
    this.headersReceived = requestFrame === null;
    this.sendCredit = started ? INITIAL_WINDOW : 0;
    if (requestEnds) {
      if (requestFrame !== null) {
        this.localEnded = true;
      } else {
        this.endAfterHeaders = true;
        this.remoteEnded = true;
      }
    }
  }

  // Client: a stream slot is free; the request goes out, then any body written meanwhile.
  start(): void {
    if (this.started || this.settledOnce) return;
    this.started = true;
    this.sendCredit = INITIAL_WINDOW;
    this.headersSent = true;
    if (this.requestFrame !== null) this.link.sendHeaders(this.id, this.requestFrame, this.requestEnds);
    this.resumeSending();
  }

  // Server: the answer's head. endStream: no body follows (the remaining writable side is ended here).
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean }): void {
    if (this.headersSent || this.settledOnce) return;
    const end = options?.endStream === true;
    const frame = this.answerFrame(headers);
    if (frame === null) return;
    this.headersSent = true;
    this.link.sendHeaders(this.id, frame, end);
    if (end) {
      this.localEnded = true;
      this.end();
      this.answeredBeforeUpload();
      this.settleIfDone();
    }
  }

  // The answer's HEADERS frame, or null when its fields cannot be carried (the stream is reset instead).
  private answerFrame(headers: OutgoingHttpHeaders): Buffer | null {
    try {
      return encodeHeaderFrame(headers);
    } catch (error) {
      if (!(error instanceof HeaderBlockError)) throw error;
      this.close(Code.internal, `the answer cannot be carried: ${error.message}`);
      return null;
    }
  }

  // Server: an answer read whole from the app, head and body in one go instead of through the Writable side.
  respondWhole(headers: OutgoingHttpHeaders, body: Buffer): void {
    if (body.length === 0) return this.respond(headers, { endStream: true });
    if (this.headersSent || this.settledOnce) return;
    // Past the credit, the body waits in the Writable side like any other.
    if (body.length > Math.min(this.sendCredit, this.link.sendable, MAX_FRAME_PAYLOAD)) {
      this.respond(headers);
      if (this.headersSent && !this.settledOnce) this.end(body);
      return;
    }
    const frame = this.answerFrame(headers);
    if (frame === null) return;
    this.headersSent = true;
    this.link.sendHeaders(this.id, frame, false);
    this.link.sendData(this.id, body, true);
    this.sendCredit -= body.length;
    this.localEnded = true;
    this.end();
    this.answeredBeforeUpload();
    this.settleIfDone();
  }

  // Client: the answer's whole body if all of it has arrived and nothing read it yet, else null (read it as a stream).
  // Taking it ends the readable side, as reading to the end would.
  readWhole(): Buffer | null {
    if (!this.endReceived || this.destroyed || this.readableFlowing !== null || this.readableDidRead) return null;
    // read() hands over all that is buffered and, the end having come, ends the readable side (null: nothing was).
    const data = (this.read() as Buffer | null) ?? EMPTY;
    this.received.reportRead(this.readableLength);
    return data;
  }

  // Never sent on this transport: an exchange that needs trailers is carried over HTTP/2.
  sendTrailers(_headers: OutgoingHttpHeaders): void {}

  // node:http2's close(code): reset the stream (CANCEL, REFUSED, INTERNAL...), or NO_ERROR once it is done.
  close(code: number = Code.noError, reason = ''): void {
    if (!this.settledOnce) {
      // A client's stream still waiting for a slot was never sent: the peer has nothing to reset.
      if (this.started) this.link.sendReset(this.id, code, reason);
      this.rstCode = code;
      this.settle();
    }
    if (!this.destroyed) this.destroy();
  }

  // Returns a reason when the peer sent a second head.
  onHeaders(headers: IncomingHttpHeaders, flags: number): string | undefined {
    if (this.headersReceived) return 'a second HEADERS frame on one stream';
    this.headersReceived = true;
    if ((flags & FLAG_END) !== 0) {
      this.endAfterHeaders = true;
      this.remoteEnded = true;
      this.endReceived = true;
    }
    this.emit('response', headers, flags);
    if (this.remoteEnded) {
      this.push(null);
      this.settleIfDone();
    }
    return undefined;
  }

  // Returns a reason when the peer broke the stream's flow control.
  onData(payload: Buffer, end: boolean): string | undefined {
    if (this.remoteEnded) return 'DATA after the end of the stream';
    if (!this.headersReceived) return 'DATA before HEADERS';
    const overrun = this.received.take(payload.length);
    if (overrun !== undefined) return overrun;
    if (end) {
      this.remoteEnded = true;
      this.endReceived = true;
    }
    let wantsMore = true;
    if (payload.length > 0) {
      if (this.destroyed) {
        this.link.consumed(payload.length);
      } else {
        this.received.pushedToConsumer(payload.length);
        wantsMore = this.push(payload);
        this.received.reportRead(this.readableLength);
      }
    }
    if (end) {
      this.push(null);
      this.settleIfDone();
    } else if (wantsMore) {
      this.grantCredit();
    }
    return undefined;
  }

  // Returns a reason when the peer granted more credit than a window can hold.
  onWindow(increment: number): string | undefined {
    if (this.sendCredit + increment > MAX_CREDIT) return `credit above ${MAX_CREDIT} bytes`;
    this.sendCredit += increment;
    this.resumeSending();
    return undefined;
  }

  // The peer reset the stream, or the connection is gone.
  onReset(code: number, reason: string): void {
    if (this.settledOnce) return;
    this.rstCode = code;
    this.resetReason = reason;
    const answered = code === Code.noError && this.remoteEnded;
    this.settle();
    if (answered) {
      // The answer is complete and stays readable; only the upload stops (the rest of it is dropped).
      this.releaseBlocked();
      return;
    }
    this.destroy();
  }

  override _read(): void {
    this.grantCredit();
    this.received.reportRead(this.readableLength);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.sendBody(chunk, 0, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.localEnded || this.settledOnce) return done();
    if (!this.started) {
      this.finalPending = done;
      return;
    }
    this.endLocal();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // Destroyed by its user before the exchange finished (the app went away): the peer stops too.
    if (!this.settledOnce) {
      if (this.started) this.link.sendReset(this.id, Code.cancel, 'the caller abandoned the stream');
      this.rstCode = Code.cancel;
      this.settle();
    }
    this.releaseBlocked();
    this.received.dropUnread();
    done(error);
  }

  private endLocal(): void {
    if (!this.headersSent) {
      this.close(Code.internal, 'the answer ended before its head was sent');
      return;
    }
    this.localEnded = true;
    this.link.sendData(this.id, EMPTY, true);
    this.answeredBeforeUpload();
    this.settleIfDone();
  }

  // RFC 9113 8.1: a server that answered in full before the request body ended stops the upload with NO_ERROR.
  private answeredBeforeUpload(): void {
    if (this.requestFrame === null && !this.remoteEnded) {
      this.link.sendReset(this.id, Code.noError, 'answered before the request body ended');
      this.rstCode = Code.noError;
      this.settle();
      // The rest of the upload never arrives, so the readable side would never end and the stream never close.
      if (this.writableFinished) this.destroy();
      else this.once('finish', () => this.destroy());
    }
  }

  private sendBody(chunk: Buffer, offset: number, done: (error?: Error | null) => void): void {
    if (this.settledOnce) return done();
    // DATA before HEADERS is a protocol error at the peer; as with an answer that ends headless, only this stream fails.
    if (this.requestFrame === null && !this.headersSent) {
      this.close(Code.internal, 'the answer\'s body was written before its head was sent');
      return done();
    }
    let at = offset;
    while (at < chunk.length) {
      const size = Math.min(chunk.length - at, this.sendCredit, this.link.sendable, MAX_FRAME_PAYLOAD);
      if (size <= 0) {
        this.blocked = { chunk, offset: at, done };
        // Out of the connection's credit, not only its own: the connection wakes it when the peer grants more.
        if (this.sendCredit > 0) this.link.awaitCredit(this);
        return;
      }
      this.link.sendData(this.id, at === 0 && size === chunk.length ? chunk : chunk.subarray(at, at + size), false);
      this.sendCredit -= size;
      at += size;
    }
    done();
  }

  // Credit came (the stream's own, or the connection's): the body written meanwhile goes out.
  resumeSending(): void {
    const blocked = this.blocked;
    if (blocked !== null && this.sendCredit > 0) {
      if (this.link.sendable > 0) {
        this.blocked = null;
        this.sendBody(blocked.chunk, blocked.offset, blocked.done);
      } else {
        this.link.awaitCredit(this);
      }
    }
    if (this.blocked === null && this.finalPending !== null && this.started) {
      const done = this.finalPending;
      this.finalPending = null;
      this.endLocal();
      done();
    }
  }

  private releaseBlocked(): void {
    const blocked = this.blocked;
    const final = this.finalPending;
    this.blocked = null;
    this.finalPending = null;
    blocked?.done();
    final?.();
  }

  private grantCredit(): void {
    if (!this.remoteEnded && !this.settledOnce) this.received.grant();
  }

  private settleIfDone(): void {
    if (this.localEnded && this.remoteEnded && !this.settledOnce) {
      this.rstCode = Code.noError;
      this.settle();
      // As node:http2 does: a body the server never looked at (a GET's empty one) is dumped, or the stream never ends and never closes.
      if (this.requestFrame === null && !this.endAfterHeaders && this.readableFlowing === null && !this.readableDidRead) this.resume();
    }
  }

  private settle(): void {
    this.settledOnce = true;
    this.localEnded = true;
    this.remoteEnded = true;
    this.link.settled(this);
  }
}
