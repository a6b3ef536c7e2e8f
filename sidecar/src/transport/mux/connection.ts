// One tsmesh/1 connection between two sidecars: many streams over one mTLS socket, frames coalesced per event-loop turn.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { CLIENT_STREAMS_BEFORE_HELLO, Code, DEFAULT_MAX_STREAMS, decodeHeaders, encodeHeaderFrame, FLAG_END, Frame, FrameReader, HeaderBlockError, reasonText, stampFrame, textFrame } from './frames.js';
import { MuxStream } from './stream.js';
import { StreamTable } from './stream-table.js';
import type { StreamLink } from './stream-link.js';
import { ConnectionWindow } from './connection-window.js';
import { FrameWriter } from './frame-writer.js';

// Ids are 31 bits on the wire; the reader drops the top bit.
const MAX_STREAM_ID = 0x7fffffff;

export type MuxRole = 'client' | 'server';

export interface MuxConnectionOptions {
  // Server: concurrent streams it takes (sent in HELLO); more are refused with REFUSED.
  maxStreams?: number;
  // A connection without streams for this long drains and closes (0: never).
  idleTimeoutMs?: number;
}

// Events: 'stream' (server: a new exchange, with its headers), 'hello' (client: the server took our
// certificate and said its limits), 'drain' (the peer takes no new streams), 'close'.
export class MuxConnection extends EventEmitter implements StreamLink {
  private readonly streams = new StreamTable<MuxStream>();
  private readonly waiting: MuxStream[] = [];
  private readonly reader: FrameReader;
  private readonly window = new ConnectionWindow();
  private nextId = 1;
  private lastRemoteId = 0;
  private peerMaxStreams = CLIENT_STREAMS_BEFORE_HELLO;
  private readonly out: FrameWriter;
  private drainingLocal = false;
  private drainingRemote = false;
  private closedFlag = false;
  // A protocol error was found: the DRAIN that says so is out and the socket is ending.
  private failed = false;
  // Why the connection ended, for the streams it takes down and the caller's error.
  failure: string | null = null;
  greeted = false;

  constructor(
    readonly socket: Socket,
    readonly role: MuxRole,
    private readonly options: MuxConnectionOptions = {},
  ) {
    super();
    socket.setNoDelay(true);
    this.out = new FrameWriter(socket);
    this.reader = new FrameReader({ frame: (type, flags, id, payload) => this.onFrame(type, flags, id, payload), malformed: (reason) => this.fail(reason) });
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('error', (error: Error) => (this.failure ??= error.message));
    socket.once('close', () => this.onClose());
    if (role === 'server') this.out.frame(textFrame(Frame.hello, 0, 0, [this.options.maxStreams ?? DEFAULT_MAX_STREAMS], ''));
    const idleMs = options.idleTimeoutMs ?? 0;
    // The socket's timer counts silence; only a connection with nothing in flight is idle.
    if (idleMs > 0) socket.setTimeout(idleMs, () => this.streams.size === 0 && this.drain('idle'));
  }

  get active(): number {
    return this.streams.size;
  }

  // Whether a new request may go on this connection.
  get usable(): boolean {
    return !this.closedFlag && !this.failed && !this.drainingLocal && !this.drainingRemote && this.out.writable && this.nextId <= MAX_STREAM_ID;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  // Client: a new exchange. Past the peer's stream limit it waits for a slot, in order.
  request(headers: OutgoingHttpHeaders, endStream: boolean): MuxStream {
    // Refused here, before anything is sent: the caller turns it into a 400, as node:http2 does.
    const stream = new MuxStream(this.nextId, this, false, encodeHeaderFrame(headers), endStream);
    if (!this.usable) {
      // Nothing is sent, so the retry layer may take it elsewhere; a stream that was never tracked would never close.
      const reason = this.failure ?? (this.drainingLocal || this.drainingRemote ? 'the connection is draining' : 'the connection is closed');
      process.nextTick(() => stream.onReset(Code.refused, `not sent: ${reason}`));
      return stream;
    }
    this.nextId += 2;
    this.streams.set(stream.id, stream);
    if (this.streams.size - this.waiting.length <= this.peerMaxStreams) stream.start();
    else this.waiting.push(stream);
    return stream;
  }

  // No new streams: the peer finishes what it sent up to now, and later ones are refused as not processed.
  drain(reason: string): void {
    if (this.drainingLocal || this.closedFlag) return;
    this.drainingLocal = true;
    this.out.frame(textFrame(Frame.drain, 0, 0, [this.lastRemoteId, Code.noError], reasonText(reason)));
    this.closeIfIdle();
  }

  // Close once the streams in flight are done (after a drain or an idle timeout).
  closeIfIdle(): void {
    if (this.streams.size === 0 && (this.drainingLocal || this.drainingRemote)) this.socket.end();
  }

  destroy(reason = 'the connection was closed locally'): void {
    this.failure ??= reason;
    this.socket.destroy();
  }

  sendHeaders(id: number, frame: Buffer, end: boolean): void {
    this.out.frame(stampFrame(frame, end ? FLAG_END : 0, id));
  }

  get sendable(): number {
    return this.window.sendable;
  }

  awaitCredit(stream: MuxStream): void {
    this.window.wait(stream);
  }

  consumed(bytes: number): void {
    const grant = this.window.consumed(bytes);
    if (grant > 0) this.sendWindow(0, grant);
  }

  sendData(id: number, chunk: Buffer, end: boolean): void {
    this.window.spend(chunk.length);
    this.out.data(id, chunk, end);
  }

  sendWindow(id: number, increment: number): void {
    this.out.frame(textFrame(Frame.window, 0, id, [increment], ''));
  }

  sendReset(id: number, code: number, reason: string): void {
    this.out.frame(textFrame(Frame.reset, 0, id, [code], reasonText(reason)));
  }

  settled(stream: MuxStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.window.forget(stream);
    const waitingAt = this.waiting.indexOf(stream);
    if (waitingAt >= 0) this.waiting.splice(waitingAt, 1);
    this.startWaiting();
    this.closeIfIdle();
  }

  private startWaiting(): void {
    // A peer that drains or a connection that is ending would only refuse them; they are refused locally instead.
    if (this.failed || this.closedFlag || this.drainingRemote) return;
    while (this.waiting.length > 0 && this.streams.size - this.waiting.length < this.peerMaxStreams) this.waiting.shift()?.start();
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    // Destroyed by a handler of an earlier frame in the same read: the rest is not acted on.
    if (this.socket.destroyed) return;
    switch (type) {
      case Frame.data: {
        const overrun = this.window.received(payload.length);
        if (overrun !== undefined) return this.fail(overrun);
        const stream = this.openStream(id);
        if (stream === undefined) {
          // A late frame for a forgotten stream is dropped, and its bytes count as read.
          this.consumed(payload.length);
          return this.unknownStream(id, 'DATA');
        }
        const broken = stream.onData(payload, (flags & FLAG_END) !== 0);
        if (broken !== undefined) {
          this.consumed(payload.length);
          stream.close(Code.flowControl, broken);
        }
        return;
      }
      case Frame.headers:
        return this.onHeaders(flags, id, payload);
      case Frame.reset: {
        if (payload.length < 4) return this.fail('a RESET frame shorter than its code');
        this.streams.get(id)?.onReset(payload.readUInt32BE(0), payload.toString('utf8', 4));
        return;
      }
      case Frame.window: {
        if (payload.length !== 4 || payload.readUInt32BE(0) === 0) return this.fail('a WINDOW frame without a positive increment');
        if (id === 0) {
          const broken = this.window.granted(payload.readUInt32BE(0));
          return broken === undefined ? undefined : this.fail(broken);
        }
        const stream = this.streams.get(id);
        const broken = stream?.onWindow(payload.readUInt32BE(0));
        if (broken !== undefined) stream?.close(Code.flowControl, broken);
        return;
      }
      case Frame.hello:
        return this.onHello(payload);
      case Frame.drain:
        return this.onDrain(payload);
      default:
        // Frame types this version does not know are skipped, so a later version can add some.
        return;
    }
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    let headers: IncomingHttpHeaders;
    try {
      headers = decodeHeaders(payload);
    } catch (error) {
      if (!(error instanceof HeaderBlockError)) throw error;
      return this.fail(`a header block that cannot be read: ${error.message}`);
    }
    if (this.role === 'client') {
      const stream = this.openStream(id);
      if (stream === undefined) return this.unknownStream(id, 'HEADERS');
      const broken = stream.onHeaders(headers, flags);
      if (broken !== undefined) stream.close(Code.protocol, broken);
      return;
    }
    if (id % 2 === 0 || id <= this.lastRemoteId) return this.fail(`a new stream with id ${id}, not an odd id above ${this.lastRemoteId}`);
    this.lastRemoteId = id;
    const limit = this.options.maxStreams ?? DEFAULT_MAX_STREAMS;
    if (this.drainingLocal) return this.sendReset(id, Code.refused, 'the peer is draining; not processed, send it elsewhere');
    if (this.streams.size >= limit) return this.sendReset(id, Code.refused, `more than ${limit} concurrent streams; not processed`);
    const stream = new MuxStream(id, this, true, null, (flags & FLAG_END) !== 0);
    this.streams.set(id, stream);
    this.emit('stream', stream, headers);
  }

  private onHello(payload: Buffer): void {
    if (this.role !== 'client' || payload.length < 4) return this.fail('an unexpected HELLO frame');
    this.peerMaxStreams = Math.max(1, payload.readUInt32BE(0));
    this.greeted = true;
    this.startWaiting();
    this.emit('hello');
  }

  private onDrain(payload: Buffer): void {
    if (payload.length < 8) return this.fail('a DRAIN frame shorter than its stream id and code');
    const lastId = payload.readUInt32BE(0);
    const code = payload.readUInt32BE(4);
    const reason = payload.toString('utf8', 8);
    this.drainingRemote = true;
    if (code !== Code.noError) this.failure ??= `the peer ended the connection: ${reason}`;
    // Streams the peer never saw were not processed: the retry layer may send them elsewhere.
    for (const stream of this.streams.values()) {
      if (this.role === 'client' && stream.id > lastId) stream.onReset(Code.refused, `the peer is draining (${reason}); not processed`);
    }
    this.emit('drain');
    this.closeIfIdle();
  }

  // A client's stream waiting for a slot was never sent: the peer cannot know its id.
  private openStream(id: number): MuxStream | undefined {
    const stream = this.streams.get(id);
    return stream?.headersSent === true || this.role === 'server' ? stream : undefined;
  }

  // A frame for a stream this side already forgot (reset, or finished) is late, not wrong.
  private unknownStream(id: number, what: string): void {
    const waiting = this.role === 'client' && this.streams.has(id);
    if (id === 0 || waiting || (this.role === 'server' && id > this.lastRemoteId) || (this.role === 'client' && id >= this.nextId)) this.fail(`${what} for stream ${id}, which was never opened`);
  }

  private fail(reason: string): void {
    if (this.closedFlag || this.failed) return;
    this.failed = true;
    this.failure ??= `protocol error: ${reason}`;
    this.reader.stop();
    if (this.out.writable) {
      this.out.frame(textFrame(Frame.drain, 0, 0, [this.lastRemoteId, Code.protocol], reasonText(reason)));
      this.socket.end();
      // A peer that does not close its side in time is cut off.
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    }
    this.resetAll(Code.protocol, this.failure);
  }

  private onClose(): void {
    this.closedFlag = true;
    this.reader.stop();
    this.resetAll(Code.internal, this.failure ?? 'the connection to the peer closed');
    this.emit('close');
  }

  private resetAll(code: number, reason: string): void {
    // Taken first: each reset frees a slot, and a waiting stream must not start on a connection that is ending.
    const waiting = new Set(this.waiting);
    this.waiting.length = 0;
    for (const stream of this.streams.values()) {
      // A request that never left (waiting for a slot) was not processed, whatever happened to the connection.
      stream.onReset(waiting.has(stream) ? Code.refused : code, reason);
    }
  }
}
