// A tsmesh/1 stream's body as a Node Duplex, made only when a body is streamed; the stream keeps the state and the credit.
import type { OutgoingHttpHeaders } from 'node:http';
import { Duplex, type DuplexOptions } from 'node:stream';
import type { MuxStream } from './stream.js';

// Node documents Duplex's readable/writable options (false: that side starts ended); @types/node 20 lacks them.
type EndableDuplexOptions = DuplexOptions & { readable: boolean; writable: boolean };

// Also what node:http2's stream offers an answer (respond, close(code), rstCode), so the relay writes to either.
export class MuxBody extends Duplex {
  // readable / writable false: that side had already ended when the body was first asked for.
  constructor(
    private readonly exchange: MuxStream,
    readable: boolean,
    writable: boolean,
  ) {
    const options: EndableDuplexOptions = { allowHalfOpen: true, readable, writable };
    super(options);
  }

  get rstCode(): number | undefined {
    return this.exchange.rstCode;
  }

  get headersSent(): boolean {
    return this.exchange.headersSent;
  }

  get endAfterHeaders(): boolean {
    return this.exchange.endAfterHeaders;
  }

  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean }): void {
    this.exchange.respond(headers, options);
  }

  close(code?: number, reason?: string): void {
    this.exchange.close(code, reason);
  }

  // Never sent on this transport: an exchange that needs trailers is carried over HTTP/2.
  sendTrailers(_headers: OutgoingHttpHeaders): void {}

  override _read(): void {
    this.exchange.readMore(this.readableLength);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.exchange.sendBody(chunk, 0, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.exchange.finishBody(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.exchange.abandon();
    done(error);
  }
}
