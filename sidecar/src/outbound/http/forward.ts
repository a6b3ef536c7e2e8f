// Terminal outbound layer: open an HTTP/2 stream on a pooled mTLS session and stream the body both ways.
import { constants as h2c, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { ServiceEndpoint } from '../../discovery/endpoint-resolver.js';
import { BadRequestError, InternalError, MeshError, TlsHandshakeError, UpstreamResetError } from '../../errors.js';
import type { SessionPool } from '../../transport/pool.js';
import { APP_PORT_HEADER, APP_PROTOCOL_HEADER } from '../../pipeline/headers.js';
import { cancelReason, type OutboundHandler, type OutboundRequest, type UpstreamResponse } from './types.js';

export function forwardHandler(pool: SessionPool): OutboundHandler {
  return async (req) => {
    const endpoint = req.endpoint;
    if (!endpoint) throw new InternalError('outbound/forward: no endpoint was chosen before forwarding');
    let session = pool.ready(endpoint) ?? (await pool.connect(endpoint, req.connectTimeoutMs ?? undefined));
    if (req.signal.aborted) throw cancelReason(req);
    // A rotation or GOAWAY between connect and now closes the session for new streams; the pool has a fresh one.
    if (session.closed || session.destroyed) session = await pool.connect(endpoint, req.connectTimeoutMs ?? undefined);
    if (req.upgrade === 'websocket' && !session.remoteSettings.enableConnectProtocol) await peerSettings(session);
    return openStream(session, req, endpoint, pool);
  };
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

function openStream(session: ClientHttp2Session, req: OutboundRequest, endpoint: ServiceEndpoint, pool: SessionPool): Promise<UpstreamResponse> {
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
  let stream: ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: req.body === null && req.upgrade === null });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_HTTP2_INVALID') && code !== 'ERR_HTTP2_INVALID_SESSION') {
      return Promise.reject(new BadRequestError(`outbound/forward: the request cannot be carried over HTTP/2: ${(error as Error).message}`));
    }
    // The session refused a new stream locally (closing, GOAWAY): nothing was sent, so it counts as refused.
    return Promise.reject(resetError(`outbound/forward: could not open a stream to ${describe(endpoint)}: ${(error as Error).message}`, h2c.NGHTTP2_REFUSED_STREAM));
  }
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
      reject(streamError(error, endpoint));
    });
    stream.once('close', () => {
      req.signal.removeEventListener('abort', onAbort);
      if (answered) return;
      answered = true;
      reject(pool.failureOf(session, endpoint) ?? resetError(`outbound/h2: ${describe(endpoint)} reset the stream before answering (${rstCodeName(stream.rstCode)})`, stream.rstCode));
    });
    stream.once('response', (responseHeaders, flags: number) => {
      if (answered) return;
      answered = true;
      resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: stream, headersOnly: (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0 });
    });
    const body = req.body;
    if (body !== null) {
      body.pipe(stream);
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
  [h2c.NGHTTP2_REFUSED_STREAM, 'REFUSED_STREAM'],
  [h2c.NGHTTP2_CANCEL, 'CANCEL'],
  [h2c.NGHTTP2_ENHANCE_YOUR_CALM, 'ENHANCE_YOUR_CALM'],
]);

function rstCodeName(code: number | undefined): string {
  return code === undefined ? 'no RST_STREAM' : (RST_NAMES.get(code) ?? `code ${code}`);
}
