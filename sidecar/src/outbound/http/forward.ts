// Terminal outbound layer: open a stream on a pooled mTLS connection (tsmesh/1 or HTTP/2) and stream the body both ways.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { constants as h2c, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { ServiceEndpoint } from '../../discovery/endpoint-resolver.js';
import { BadRequestError, InternalError, MeshError, TlsHandshakeError, toMeshError, UpstreamResetError } from '../../errors.js';
import { isOpen, type ExchangeKind, type PeerTransport, type SessionPool } from '../../transport/pool.js';
import { MuxConnection } from '../../transport/mux/connection.js';
import { HeaderBlockError } from '../../transport/mux/frames.js';
import type { MuxStream } from '../../transport/mux/stream.js';
import { APP_PORT_HEADER, APP_PROTOCOL_HEADER } from '../../pipeline/headers.js';
import { cancelReason, streamBody, type OutboundHandler, type OutboundRequest, type UpstreamBody, type UpstreamResponse } from './types.js';

export function forwardHandler(pool: SessionPool): OutboundHandler {
  return (req) => {
    const endpoint = req.endpoint;
    if (!endpoint) return Promise.reject(new InternalError('outbound/forward: no endpoint was chosen before forwarding'));
    const kind: ExchangeKind = req.upgrade === null && req.appProtocol === null ? 'plain' : 'http2';
    const ready = pool.ready(endpoint, kind);
    // Nearly every request: a pooled tsmesh/1 connection is open, and nothing to wait for needs a promise of this layer's own.
    if (ready instanceof MuxConnection && !req.signal.aborted) return openMuxStream(ready, req, endpoint, pool);
    return connectAndForward(pool, req, endpoint, kind, ready);
  };
}

async function connectAndForward(pool: SessionPool, req: OutboundRequest, endpoint: ServiceEndpoint, kind: ExchangeKind, ready: PeerTransport | undefined): Promise<UpstreamResponse> {
  let peer = ready ?? (await pool.connect(endpoint, kind, req.connectTimeoutMs ?? undefined));
  if (req.signal.aborted) throw cancelReason(req);
  // A rotation or drain between connect and now closes the connection for new streams; the pool has a fresh one.
  if (!isOpen(peer)) peer = await pool.connect(endpoint, kind, req.connectTimeoutMs ?? undefined);
  if (peer instanceof MuxConnection) return openMuxStream(peer, req, endpoint, pool);
  if (req.upgrade === 'websocket' && !peer.remoteSettings.enableConnectProtocol) await peerSettings(peer);
  return openStream(peer, req, endpoint, pool);
}

// RFC 8441: extended CONNECT only once the peer's SETTINGS said it takes it; they arrive right after connect.
function peerSettings(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      session.off('remoteSettings', done);
      session.off('close', done);
      resolve();
    };
    session.on('remoteSettings', done);
    session.on('close', done);
  });
}

function describe(endpoint: ServiceEndpoint): string {
  return `${endpoint.address} (${endpoint.identity})`;
}

// The request's head as the peer reads it: pseudo-headers added to the (already HTTP/2-clean) headers.
function peerHeaders(req: OutboundRequest): OutgoingHttpHeaders {
  const headers = req.headers;
  headers[':authority'] = req.authority;
  if (req.upgrade === 'tcp') {
    // RFC 9113 8.5: a plain CONNECT carries only :method and :authority.
    headers[':method'] = 'CONNECT';
  } else {
    headers[':path'] = req.path;
    headers[':scheme'] = 'http';
    if (req.upgrade === 'websocket') {
      headers[':method'] = 'CONNECT';
      headers[':protocol'] = req.upgrade;
    } else {
      headers[':method'] = req.method;
    }
  }
  if (req.appPort !== null) headers[APP_PORT_HEADER] = String(req.appPort);
  if (req.appProtocol !== null) headers[APP_PROTOCOL_HEADER] = req.appProtocol;
  return headers;
}

function openMuxStream(connection: MuxConnection, req: OutboundRequest, endpoint: ServiceEndpoint, pool: SessionPool): Promise<UpstreamResponse> {
  let stream: MuxStream;
  try {
    stream = connection.request(peerHeaders(req), req.body === null);
  } catch (error) {
    if (error instanceof HeaderBlockError) return Promise.reject(new BadRequestError(`outbound/forward: the request cannot be carried to the peer: ${error.message}`));
    return Promise.reject(toMeshError(error, 'outbound/forward'));
  }
  return awaitAnswer(stream, req, () => pool.failureOf(connection, endpoint) ?? resetError(`outbound/peer: ${describe(endpoint)} reset the stream before answering (${rstCodeName(stream.rstCode)}${stream.resetReason ? `: ${stream.resetReason}` : ''})`, stream.rstCode));
}

function openStream(session: ClientHttp2Session, req: OutboundRequest, endpoint: ServiceEndpoint, pool: SessionPool): Promise<UpstreamResponse> {
  let stream: ClientHttp2Stream;
  try {
    stream = session.request(peerHeaders(req), { endStream: req.body === null && req.upgrade === null });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_HTTP2_INVALID') && code !== 'ERR_HTTP2_INVALID_SESSION') {
      return Promise.reject(new BadRequestError(`outbound/forward: the request cannot be carried over HTTP/2: ${(error as Error).message}`));
    }
    // The session refused a new stream locally (closing, GOAWAY): nothing was sent, so it counts as refused.
    return Promise.reject(resetError(`outbound/forward: could not open a stream to ${describe(endpoint)}: ${(error as Error).message}`, h2c.NGHTTP2_REFUSED_STREAM));
  }
  return awaitAnswer(stream, req, () => pool.failureOf(session, endpoint) ?? resetError(`outbound/h2: ${describe(endpoint)} reset the stream before answering (${rstCodeName(stream.rstCode)})`, stream.rstCode), (error) => streamError(error, endpoint));
}

// Either transport: the answer's head resolves, a close or error before it rejects, and the caller's cancel resets the stream.
function awaitAnswer(stream: UpstreamBody, req: OutboundRequest, closedEarly: () => MeshError, onError?: (error: Error) => MeshError): Promise<UpstreamResponse> {
  return new Promise<UpstreamResponse>((resolve, reject) => {
    let answered = false;
    const onAbort = (): void => {
      // CANCEL tells the peer (and through it the app) that nobody waits for this answer any more.
      if (!stream.closed) stream.close(h2c.NGHTTP2_CANCEL);
      if (!answered) reject(cancelReason(req));
    };
    if (req.signal.aborted) return onAbort();
    req.signal.addEventListener('abort', onAbort, { once: true });
    stream.on('error', (error: Error) => {
      if (answered) return;
      answered = true;
      reject(onError ? onError(error) : toMeshError(error, 'outbound/forward'));
    });
    // Once per stream, as is 'response': on() without once()'s wrapper per request.
    stream.on('close', () => {
      req.signal.removeEventListener('abort', onAbort);
      if (answered) return;
      answered = true;
      reject(closedEarly());
    });
    stream.on('response', (responseHeaders: IncomingHttpHeaders, flags: number) => {
      if (answered) return;
      answered = true;
      resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: stream, headersOnly: (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0 });
    });
    const body = req.body;
    if (body !== null) {
      body.pipe(streamBody(stream));
      // A body that closes before its end (the app hung up mid-upload) must not leave the peer waiting for the rest.
      const cutShort = (): void => {
        if (!body.readableEnded && !stream.closed) stream.close(h2c.NGHTTP2_CANCEL);
      };
      if (body.destroyed) cutShort();
      else body.once('close', cutShort);
    }
  });
}

function streamError(error: Error, endpoint: ServiceEndpoint): MeshError {
  if (error instanceof MeshError) return error;
  // TLS 1.3 clients finish their handshake before the server checks their certificate; a refusal arrives as an alert here.
  if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_SSL_')) {
    return new TlsHandshakeError(`outbound/tls: ${describe(endpoint)} refused the handshake: ${error.message}`, { cause: error });
  }
  const refused = (error as NodeJS.ErrnoException).code === 'ERR_HTTP2_STREAM_ERROR' && error.message.includes('REFUSED_STREAM');
  return resetError(`outbound/h2: stream to ${describe(endpoint)} failed: ${error.message}`, refused ? h2c.NGHTTP2_REFUSED_STREAM : undefined, error);
}

function resetError(message: string, rstCode: number | undefined, cause?: Error): UpstreamResetError {
  const error = new UpstreamResetError(message, cause ? { cause } : undefined);
  error.refusedStream = rstCode === h2c.NGHTTP2_REFUSED_STREAM;
  return error;
}

const RST_NAMES = new Map<number, string>([
  [h2c.NGHTTP2_NO_ERROR, 'NO_ERROR'],
  [h2c.NGHTTP2_PROTOCOL_ERROR, 'PROTOCOL_ERROR'],
  [h2c.NGHTTP2_INTERNAL_ERROR, 'INTERNAL_ERROR'],
  [h2c.NGHTTP2_FLOW_CONTROL_ERROR, 'FLOW_CONTROL_ERROR'],
  [h2c.NGHTTP2_REFUSED_STREAM, 'REFUSED_STREAM'],
  [h2c.NGHTTP2_CANCEL, 'CANCEL'],
  [h2c.NGHTTP2_ENHANCE_YOUR_CALM, 'ENHANCE_YOUR_CALM'],
]);

function rstCodeName(code: number | undefined): string {
  return code === undefined ? 'no RST_STREAM' : (RST_NAMES.get(code) ?? `code ${code}`);
}
