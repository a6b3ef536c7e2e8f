// WebSocket from the app: an HTTP/1.1 Upgrade carried to the peer as an RFC 8441 extended CONNECT stream.
import type { Duplex } from 'node:stream';
import type { Logger } from '@tsmesh/proto';
import { BadRequestError, toMeshError } from '../errors.js';
import { respondRawSocket } from '../errors-respond.js';
import type { RequestHead } from '../transport/http1-head.js';
import { isHopByHop } from '../pipeline/headers.js';
import { http1Head, statusLine } from '../transport/http1-write.js';
import { streamBody, type OutboundHandler, type UpstreamResponse } from './http/types.js';
import { toOutboundRequest } from './h1-proxy.js';
import type { TransparentTarget } from './transparent.js';

export function proxyUpgrade(handler: OutboundHandler, req: RequestHead, socket: Duplex, head: Buffer, logger: Logger, transparent?: TransparentTarget): void {
  socket.on('error', (error: Error) => logger.debug('app socket error on upgrade', { error: error.message }));
  if (req.upgrade?.toLowerCase() !== 'websocket') {
    respondRawSocket(socket, new BadRequestError(`outbound/target: only "Upgrade: websocket" is carried, not "${String(req.upgrade).slice(0, 100)}"`));
    return;
  }
  const request = toOutboundRequest(req, null, 'websocket', transparent);
  if (request instanceof BadRequestError) {
    respondRawSocket(socket, request);
    return;
  }
  socket.once('close', () => request.cancel(new BadRequestError('outbound/listener: the app closed the WebSocket connection')));
  handler(request).then(
    (upstream) => {
      if (socket.destroyed) upstream.body.destroy();
      else if (upstream.status === 200) openTunnel(socket, head, upstream);
      else relayRefusal(socket, upstream);
    },
    (error: unknown) => respondRawSocket(socket, toMeshError(error, 'outbound')),
  );
}

// 200 on an extended CONNECT is the peer app's 101; its headers (Sec-WebSocket-Accept...) go back to the app.
function openTunnel(socket: Duplex, head: Buffer, upstream: UpstreamResponse): void {
  const stream = streamBody(upstream.body);
  socket.write(http1Head.start().text(statusLine(101)).text('connection: Upgrade\r\nupgrade: websocket\r\n').fields(upstream.headers, isHopByHop).done());
  if (head.length > 0) stream.write(head);
  socket.pipe(stream);
  stream.pipe(socket);
  // Either side going away ends the tunnel; half-open tunnels would leak sockets and streams.
  stream.once('close', () => socket.destroy());
  socket.once('close', () => stream.destroy());
}

// The app refused the upgrade (e.g. 400/403): pass its answer through as an ordinary response, its
// body ended by the close (so the peer's framing fields, hop-by-hop, stay out).
function relayRefusal(socket: Duplex, upstream: UpstreamResponse): void {
  socket.write(http1Head.start().text(statusLine(upstream.status)).text('connection: close\r\n').fields(upstream.headers, isHopByHop).done());
  const body = streamBody(upstream.body);
  body.pipe(socket);
  body.once('close', () => {
    if (!body.readableEnded) socket.destroy();
  });
}
