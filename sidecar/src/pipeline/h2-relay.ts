// Writes an answer onto a server stream (HTTP/2 or tsmesh/1): headers, streamed body, and the trailers gRPC needs for its status.
import { constants as h2c, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import { MuxStream } from '../transport/mux/stream.js';

// What an answer made of a head alone needs: node:http2's server stream, or a tsmesh/1 stream.
export interface HeadAnswerStream {
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly headersSent: boolean;
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean }): void;
  close(code?: number): void;
}

// What a streamed answer needs: node:http2's server stream, or a tsmesh/1 stream's Duplex.
export interface AnswerStream extends Writable {
  readonly headersSent: boolean;
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean; waitForTrailers?: boolean }): void;
  close(code?: number): void;
  sendTrailers(headers: OutgoingHttpHeaders): void;
}

// An answer whose body was read whole with its head (a Buffer, not a stream); tsmesh/1 sends both in one go.
export function answerWhole(stream: AnswerStream | MuxStream, headers: OutgoingHttpHeaders, body: Buffer): void {
  if (stream.destroyed || stream.closed) return;
  if (stream instanceof MuxStream) return stream.respondWhole(headers, body);
  if (body.length === 0) return stream.respond(headers, { endStream: true });
  stream.respond(headers);
  // node:http2 ends the stream itself on respond() for an answer that has no body (HEAD, 204, 304).
  if (!stream.writableEnded) stream.end(body);
}

// withTrailers: the body is an HTTP/2 stream whose trailers (grpc-status, grpc-message) must follow it.
// headersOnly: the answer's HEADERS frame carried END_STREAM (Node 20's endAfterHeaders does not say so on a client stream).
export function relayToH2(stream: AnswerStream, headers: OutgoingHttpHeaders, body: Readable, withTrailers: boolean, headersOnly = false): void {
  if (stream.destroyed || stream.closed) {
    body.destroy();
    return;
  }
  // A trailers-only answer (how gRPC reports most errors) must stay one HEADERS frame with END_STREAM;
  // split into headers and an empty body, a gRPC client would read it as a response without a status.
  if (headersOnly) {
    stream.respond(headers, { endStream: true });
    body.resume();
    return;
  }
  let trailers: IncomingHttpHeaders | undefined;
  if (withTrailers) body.once('trailers', (received: IncomingHttpHeaders) => (trailers = received));
  stream.respond(headers, withTrailers ? { waitForTrailers: true } : undefined);
  if (withTrailers) stream.once('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
  // 204/304/HEAD: respond() already ended the stream; the (empty) body only needs draining.
  if (stream.writableEnded) {
    body.resume();
    return;
  }
  // By hand rather than pipe(): pipe builds eight closures per answer, and this runs for every one.
  const resume = (): void => {
    body.resume();
  };
  body.on('data', (chunk: Buffer) => {
    if (!stream.write(chunk) && !stream.destroyed) {
      body.pause();
      stream.once('drain', resume);
    }
  });
  body.once('end', () => stream.end());
  body.once('close', () => {
    // The other side cut its answer short: the caller must see a reset, not a clean but truncated body.
    if (!body.readableEnded && !stream.closed) stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
  });
}
