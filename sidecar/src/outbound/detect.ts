// Protocol detection on a connection's first bytes: HTTP/1.x, HTTP/2 prior knowledge (h2c, gRPC), or opaque TCP.
import type { Socket } from 'node:net';

export type DetectedProtocol = 'http1' | 'h2' | 'opaque';

// RFC 9113 3.4: every prior-knowledge HTTP/2 client opens with this preface.
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
// A request line longer than this is not worth waiting for (Node's own header limit is 16 KiB in total).
const MAX_REQUEST_LINE = 8 * 1024;
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+ HTTP\/1\.[01]$/;
// What a request line can look like before its CRLF arrives: a method, then a target, then the version.
const REQUEST_LINE_PREFIX = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*( [\x21-\x7e]*( (H(T(T(P(\/(1(\.[01]?)?)?)?)?)?)?)?)?)?$/;

// undefined: not enough bytes yet to tell. HTTP/1 only on a whole, well-formed request line, so an opaque
// protocol whose first word happens to be a token (Redis inline, SMTP-like) is never fed to an HTTP parser.
export function classify(bytes: Buffer): DetectedProtocol | undefined {
  const preface = Math.min(bytes.length, H2_PREFACE.length);
  if (bytes.subarray(0, preface).equals(H2_PREFACE.subarray(0, preface))) {
    // "PRI * HTTP/2.0" is also a well-formed request line prefix: wait for the whole preface.
    return bytes.length >= H2_PREFACE.length ? 'h2' : undefined;
  }
  const lineEnd = bytes.indexOf('\r\n', 0, 'latin1');
  if (lineEnd >= 0) return REQUEST_LINE.test(bytes.toString('latin1', 0, lineEnd)) ? 'http1' : 'opaque';
  if (bytes.length >= MAX_REQUEST_LINE) return 'opaque';
  // A lone trailing CR may be the first half of the CRLF.
  const text = bytes.toString('latin1', 0, bytes.at(-1) === 0x0d ? bytes.length - 1 : bytes.length);
  return REQUEST_LINE_PREFIX.test(text) ? undefined : 'opaque';
}

export interface Detection {
  protocol: DetectedProtocol;
  // True when the client sent nothing within the timeout (server-speaks-first protocols): proxied as opaque.
  timedOut: boolean;
  // Bytes read that could not be put back because the client had already half-closed: send them first.
  leftover?: Buffer;
}

// Reads until the first bytes decide, or the client stays silent for timeoutMs; every byte read is put back.
export function detectProtocol(socket: Socket, timeoutMs: number): Promise<Detection> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (protocol: DetectedProtocol, timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (chunks.length > 0 && socket.readableEnded) resolve({ protocol, timedOut, leftover: Buffer.concat(chunks) });
      else {
        if (chunks.length > 0) socket.unshift(Buffer.concat(chunks));
        resolve({ protocol, timedOut });
      }
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const protocol = classify(chunks.length === 1 ? chunk : Buffer.concat(chunks));
      if (protocol !== undefined) finish(protocol, false);
    };
    // A client that half-closes before it said enough is not speaking HTTP.
    const onEnd = (): void => finish('opaque', false);
    const timer = setTimeout(() => finish('opaque', chunks.length === 0), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    // A 'data' listener does not restart a socket that was paused explicitly (the caller may have, during a lookup).
    socket.resume();
  });
}
