// The one place where a MeshError becomes what the caller sees: HTTP/1.1 response, raw socket answer, or HTTP/2 stream.
import { constants as h2c } from 'node:http2';
import { answerWhole, type AnswerStream, type HeadAnswerStream } from './pipeline/h2-relay.js';
import type { MuxStream } from './transport/mux/stream.js';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MeshError } from './errors.js';
import { http1Head, KEEP_ALL, statusLine } from './transport/http1-write.js';

export const MESH_ERROR_HEADER = 'x-mesh-error';
export const MESH_REASON_HEADER = 'x-mesh-reason';

// Header values must be visible ASCII; reasons quote peers' strings, so anything else is replaced.
function headerSafe(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, ' ');
}

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function answerFor(error: MeshError): ErrorAnswer {
  const body = JSON.stringify({ error: error.code, reason: error.message });
  return {
    status: error.status,
    headers: {
      [MESH_ERROR_HEADER]: error.code,
      [MESH_REASON_HEADER]: headerSafe(error.message),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...error.headers,
    },
    body,
  };
}

// Once the status line is out, a wrong body is worse than a cut connection: the caller must see a failure.
export function respondHttp1(res: ServerResponse, error: MeshError): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const answer = answerFor(error);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

// For requests Node hands over as a bare socket (Upgrade, CONNECT): the response is written by hand.
export function respondRawSocket(socket: Duplex, error: MeshError): void {
  if (socket.destroyed) return;
  const answer = answerFor(error);
  socket.end(http1Head.start().text(statusLine(answer.status)).text('connection: close\r\n').fields(answer.headers, KEEP_ALL).done(Buffer.from(answer.body)));
}

export function respondHttp2(stream: AnswerStream | MuxStream, error: MeshError): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const answer = answerFor(error);
  answerWhole(stream, { ':status': answer.status, ...answer.headers }, Buffer.from(answer.body));
}

// gRPC callers read grpc-status, not the HTTP status: a refusal is a trailers-only answer, as Envoy sends.
const GRPC_CODE_FOR_STATUS: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 4 };
const GRPC_UNKNOWN = 2;

export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

export function respondGrpc(stream: HeadAnswerStream, error: MeshError): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const reason = headerSafe(error.message);
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(GRPC_CODE_FOR_STATUS[error.status] ?? GRPC_UNKNOWN),
      // Percent-encoded per the gRPC spec: only '%' and bytes outside 0x20-0x7E, which headerSafe already replaced.
      'grpc-message': reason.replace(/%/g, '%25'),
      [MESH_ERROR_HEADER]: error.code,
      [MESH_REASON_HEADER]: reason,
      ...error.headers,
    },
    { endStream: true },
  );
}
