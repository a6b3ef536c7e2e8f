// The app's HTTP/2 side of the outbound proxy (h2c prior knowledge, e.g. gRPC): each stream through the pipeline.
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '@tsmesh/proto';
import { BadRequestError, toMeshError } from '../errors.js';
import { isGrpc, respondGrpc, respondHttp2 } from '../errors-respond.js';
import { h2ToH2 } from '../pipeline/headers.js';
import { relayToH2 } from '../pipeline/h2-relay.js';
import { createOutboundRequest, streamBody, type OutboundHandler } from './http/types.js';
import type { TransparentTarget } from './transparent.js';
import { headerBag } from '../transport/header-bag.js';

export interface H2ProxyServer {
  // target: the destination a transparently intercepted connection was dialled to; undefined in explicit mode.
  accept(socket: Socket, target: TransparentTarget | undefined): void;
  close(): void;
}

export function createH2Proxy(handler: OutboundHandler, logger: Logger): H2ProxyServer {
  const server: Http2Server = createServer();
  const targets = new WeakMap<object, TransparentTarget>();
  let pending: TransparentTarget | undefined;
  // Node creates the session and emits 'session' synchronously inside the 'connection' emit below.
  server.on('session', (session) => {
    if (pending) targets.set(session, pending);
    session.on('error', (error: Error) => logger.debug('app h2 session error', { error: error.message }));
  });
  server.on('stream', (stream, headers) => proxyStream(handler, stream, headers, targets.get(stream.session as object), logger));
  return {
    accept: (socket, target) => {
      pending = target;
      try {
        server.emit('connection', socket);
      } finally {
        pending = undefined;
      }
    },
    close: () => server.close(),
  };
}

function proxyStream(handler: OutboundHandler, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, target: TransparentTarget | undefined, logger: Logger): void {
  stream.on('error', (error: Error) => logger.debug('app h2 stream error', { error: error.message }));
  const method = headers[':method'] ?? 'GET';
  if (method === 'CONNECT') {
    respondHttp2(stream, new BadRequestError('outbound/target: CONNECT tunnels are not carried by the mesh; send plain requests'));
    return;
  }
  const request = createOutboundRequest({
    method,
    authority: headers[':authority'] ?? headers.host ?? target?.address ?? '',
    path: headers[':path'] ?? '/',
    headers: h2ToH2(headers, headerBag(), false),
    body: stream.endAfterHeaders ? null : stream,
    upgrade: null,
  });
  request.appProtocol = 'h2';
  if (target) {
    request.service = target.service;
    request.appPort = target.port;
    request.pinnedNodeId = target.nodeId;
  }
  stream.once('close', () => {
    if (!stream.writableFinished) request.cancel(new BadRequestError('outbound/listener: the app reset the stream before the response completed'));
  });
  handler(request).then(
    (upstream) => {
      relayToH2(stream, h2ToH2(upstream.headers, headerBag(), true), streamBody(upstream.body), true, upstream.headersOnly === true);
    },
    (error: unknown) => {
      const meshError = toMeshError(error, 'outbound');
      if (meshError.status >= 500) logger.debug('outbound h2 request failed', { code: meshError.code, reason: meshError.message });
      if (isGrpc(headers['content-type'])) respondGrpc(stream, meshError);
      else respondHttp2(stream, meshError);
    },
  );
}
