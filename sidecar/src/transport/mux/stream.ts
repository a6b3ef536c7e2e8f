// One tsmesh/1 exchange: its state and flow control both ways; its body becomes a Node Duplex only when one is streamed.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Code, encodeHeaderFrame, FLAG_END, HeaderBlockError, INITIAL_WINDOW, MAX_CREDIT, MAX_FRAME_PAYLOAD } from './frames.js';
import { MuxBody } from './body.js';
import { ReceiveCredit } from './receive-credit.js';
import type { StreamLink } from './stream-link.js';

const EMPTY = Buffer.alloc(0);
// As a Readable's default high-water mark: past this much unread body, the peer gets no more credit until it is read.
const UNREAD_LIMIT = 16 * 1024;

interface BlockedWrite {
  chunk: Buffer;
  offset: number;
  done: (error?: Error | null) => void;
}

// Streams whose 'close' is due: emitted on the next tick, as a Duplex does, but one tick for all those
// that close in the same turn rather than one per stream. The list is reused, not made per tick.
const closing: (MuxStream | undefined)[] = [];
let closingCount = 0;

function emitCloses(): void {
  // A stream that a listener closes joins this batch: closingCount is read again on every pass.
  for (let i = 0; i < closingCount; i++) {
    const stream = closing[i] as MuxStream;
    closing[i] = undefined;
    stream.emit('close');
  }
  closingCount = 0;
}

function closeOnNextTick(stream: MuxStream): void {
  if (closingCount === 0) process.nextTick(emitCloses);
  closing[closingCount++] = stream;
}

function emitErrorThenClose(stream: MuxStream, error: Error): void {
  stream.emit('error', error);
  stream.emit('close');
}

// The subset of node:http2's stream that the layers use (close(code), rstCode, respond, endAfterHeaders, 'close',
// 'response'), so the pipeline handles either transport. Nearly every exchange is a head and a small body each way,
// sent and taken whole (respondWhole, readWhole); a Duplex per exchange (duplex()) is made only for a streamed body,
// as it cost more than the rest of the stream. Events: 'response' (client: the answer's head), 'close', 'error'.
export class MuxStream extends EventEmitter {
  // Set once the stream is closed: NO_ERROR after both ends, else the reset's code.
  rstCode: number | undefined;
  // Why the stream was reset, for the error the caller sees.
  resetReason = '';
  headersSent = false;
  // The peer's HEADERS ended its side: no body follows.
  endAfterHeaders = false;
  // Our side ended cleanly (END sent, or a client's request had no body), as node:http2 reports writableFinished.
  writableFinished = false;
  private headersReceived: boolean;
  private localEnded = false;
  private remoteEnded = false;
  // The peer's END arrived (remoteEnded is also set by a reset).
  private endReceived = false;
  private settledOnce = false;
  // Closed, which for a stream without a Duplex is also destroyed: nothing of it is left to read or write.
  private closedFlag = false;
  // A client stream waits for a free stream slot before its HEADERS go out; until then it has no credit.
  private started: boolean;
  private sendCredit: number;
  private readonly received: ReceiveCredit;
  private blocked: BlockedWrite | null = null;
  private finalPending: ((error?: Error | null) => void) | null = null;
  private view: MuxBody | null = null;
  // The body that arrived while no Duplex reads it: nothing yet, one chunk (nearly always), or several.
  private unread: Buffer | Buffer[] | null = null;
  private unreadLength = 0;
  // Nothing more to read: the body was taken whole or dropped, or the request had none.
  private readDone: boolean;

  // requestEnds: the request has no body. On a client stream its HEADERS carry END; on a server stream
  // (requestFrame null) the peer's did.
  constructor(
    readonly id: number,
    private readonly link: StreamLink,
    started: boolean,
    // A client's request HEADERS frame, sent when the stream starts; null on the server's side.
    private readonly requestFrame: Buffer | null = null,
    private readonly requestEnds = false,
  ) {
    super();
    this.received = new ReceiveCredit(id, link);
    this.started = started;
    // A server stream exists because its HEADERS arrived.
    this.headersReceived = requestFrame === null;
    this.sendCredit = started ? INITIAL_WINDOW : 0;
    this.readDone = requestEnds && requestFrame === null;
    if (requestEnds) {
      if (requestFrame !== null) {
        this.localEnded = true;
        this.writableFinished = true;
      } else {
        this.endAfterHeaders = true;
        this.remoteEnded = true;
      }
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get destroyed(): boolean {
    return this.view !== null ? this.view.destroyed : this.closedFlag;
  }

  // The body as a Node Duplex, made on first use: its readable side is what the peer sends, its writable side what goes to it.
  duplex(): MuxBody {
    if (this.view !== null) return this.view;
    const view = new MuxBody(this, !this.readDone, !this.localEnded);
    this.view = view;
    view.on('error', (error: Error) => this.emit('error', error));
    view.on('close', () => {
      // Made after the stream had closed: its own 'close' is already on its way, and comes once.
      if (this.closedFlag) return;
      this.closedFlag = true;
      this.emit('close');
    });
    if (!this.readDone) {
      const unread = this.unread;
      this.unread = null;
      this.unreadLength = 0;
      if (Array.isArray(unread)) for (const chunk of unread) view.push(chunk);
      else if (unread !== null) view.push(unread);
      if (this.endReceived) view.push(null);
    }
    if (this.closedFlag) view.destroy();
    return view;
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

  // Server: the answer's head. endStream: no body follows.
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean }): void {
    if (this.headersSent || this.settledOnce) return;
    const end = options?.endStream === true;
    const frame = this.answerFrame(headers);
    if (frame === null) return;
    this.headersSent = true;
    this.link.sendHeaders(this.id, frame, end);
    if (end) this.endedLocally();
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

  // Server: an answer read whole from the app, head and body in one go.
  respondWhole(headers: OutgoingHttpHeaders, body: Buffer): void {
    if (body.length === 0) return this.respond(headers, { endStream: true });
    if (this.headersSent || this.settledOnce) return;
    // Past the credit, the body waits in the Duplex like any streamed one.
    if (body.length > Math.min(this.sendCredit, this.link.sendable, MAX_FRAME_PAYLOAD)) {
      this.respond(headers);
      if (this.headersSent && !this.settledOnce) this.duplex().end(body);
      return;
    }
    const frame = this.answerFrame(headers);
    if (frame === null) return;
    this.headersSent = true;
    this.link.sendHeaders(this.id, frame, false);
    this.link.sendData(this.id, body, true);
    this.sendCredit -= body.length;
    this.endedLocally();
  }

  // Client: the answer's whole body if all of it has arrived and nothing read it yet, else null (read it through duplex()).
  // Taking it ends the reading side, as reading to the end would.
  readWhole(): Buffer | null {
    if (!this.endReceived) return null;
    const view = this.view;
    if (view !== null) {
      if (view.destroyed || view.readableFlowing !== null || view.readableDidRead) return null;
      // read() hands over all that is buffered and, the end having come, ends the readable side (null: nothing was).
      const data = (view.read() as Buffer | null) ?? EMPTY;
      this.received.reportRead(view.readableLength);
      return data;
    }
    // A stream closed without a Duplex had its body taken or dropped already (readDone).
    if (this.readDone) return null;
    const unread = this.unread;
    const data = unread === null ? EMPTY : Array.isArray(unread) ? Buffer.concat(unread, this.unreadLength) : unread;
    this.dropUnread();
    this.closeIfDone();
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
    this.destroy();
  }

  // Destroyed by its user before the exchange finished (the app went away), the peer stops too.
  destroy(error?: Error): this {
    if (this.view !== null) {
      this.view.destroy(error);
      return this;
    }
    if (this.closedFlag) return this;
    this.abandon();
    this.closedFlag = true;
    // As a Duplex does: 'error' then 'close' on the next tick, not inside the call that destroyed it.
    if (error === undefined) closeOnNextTick(this);
    else process.nextTick(emitErrorThenClose, this, error);
    return this;
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
      this.view?.push(null);
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
      const view = this.view;
      if (this.destroyed || this.readDone) {
        this.link.consumed(payload.length);
      } else if (view !== null) {
        this.received.pushedToConsumer(payload.length);
        wantsMore = view.push(payload);
        this.received.reportRead(view.readableLength);
      } else {
        this.received.pushedToConsumer(payload.length);
        const unread = this.unread;
        if (unread === null) this.unread = payload;
        else if (Array.isArray(unread)) unread.push(payload);
        else this.unread = [unread, payload];
        this.unreadLength += payload.length;
        wantsMore = this.unreadLength < UNREAD_LIMIT;
      }
    }
    if (end) {
      this.view?.push(null);
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
      this.closeIfDone();
      return;
    }
    this.destroy();
  }

  // The body's Duplex wants more: credit goes back for what was read. unread: what its buffer still holds.
  readMore(unread: number): void {
    this.grantCredit();
    this.received.reportRead(unread);
  }

  // The body's Duplex was ended by its writer.
  finishBody(done: (error?: Error | null) => void): void {
    if (this.localEnded || this.settledOnce) return done();
    if (!this.started) {
      this.finalPending = done;
      return;
    }
    this.endLocal();
    done();
  }

  // Abandoned before the exchange finished: the peer is told to stop, and what was not read goes back to the connection.
  abandon(): void {
    if (!this.settledOnce) {
      if (this.started) this.link.sendReset(this.id, Code.cancel, 'the caller abandoned the stream');
      this.rstCode = Code.cancel;
      this.settle();
    }
    this.releaseBlocked();
    this.dropUnread();
  }

  private endLocal(): void {
    if (!this.headersSent) {
      this.close(Code.internal, 'the answer ended before its head was sent');
      return;
    }
    this.link.sendData(this.id, EMPTY, true);
    this.endedLocally();
  }

  // Our END went out (with the head, the whole body, or after a streamed one).
  private endedLocally(): void {
    this.localEnded = true;
    this.writableFinished = true;
    this.view?.end();
    this.answeredBeforeUpload();
    this.settleIfDone();
  }

  // RFC 9113 8.1: a server that answered in full before the request body ended stops the upload with NO_ERROR.
  private answeredBeforeUpload(): void {
    if (this.requestFrame === null && !this.remoteEnded) {
      this.link.sendReset(this.id, Code.noError, 'answered before the request body ended');
      this.rstCode = Code.noError;
      this.settle();
      // The rest of the upload never arrives, so the reading side would never end and the stream never close.
      const view = this.view;
      if (view === null) {
        this.dropUnread();
        this.closeIfDone();
      } else if (view.writableFinished) view.destroy();
      else view.once('finish', () => view.destroy());
    }
  }

  sendBody(chunk: Buffer, offset: number, done: (error?: Error | null) => void): void {
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

  // Nothing unread is kept: the connection gets its credit back.
  private dropUnread(): void {
    this.unread = null;
    this.unreadLength = 0;
    this.readDone = true;
    this.received.dropUnread();
  }

  private settleIfDone(): void {
    if (this.localEnded && this.remoteEnded && !this.settledOnce) {
      this.rstCode = Code.noError;
      this.settle();
      // As node:http2 does: a request body the server never looked at (a GET's empty one) is dumped, or the stream never closes.
      if (this.requestFrame === null && !this.endAfterHeaders) {
        const view = this.view;
        if (view === null) this.dropUnread();
        else if (view.readableFlowing === null && !view.readableDidRead) view.resume();
      }
      this.closeIfDone();
    }
  }

  // Without a Duplex, the stream closes once both sides are done and its body was taken; a Duplex closes it itself.
  private closeIfDone(): void {
    if (this.view !== null || this.closedFlag || !this.settledOnce || !this.readDone) return;
    this.closedFlag = true;
    closeOnNextTick(this);
  }

  private settle(): void {
    this.settledOnce = true;
    this.localEnded = true;
    this.remoteEnded = true;
    this.link.settled(this);
  }
}
