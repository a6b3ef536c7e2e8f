// Plaintext on the inbound port under PERMISSIVE mode: served as unauthenticated HTTP/1.1 for policy to judge.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '@tsmesh/proto';
import { BadRequestError, toMeshError } from '../errors.js';
import { respondHttp1, respondRawSocket } from '../errors-respond.js';
import type { InboundHandler, InboundRequest } from './http/types.js';
import { Cancellation } from '../pipeline/cancellation.js';

export interface PlaintextServer {
  accept(socket: Socket): void;
  close(): void;
}

export function createPlaintextServer(handler: InboundHandler, logger: Logger): PlaintextServer {
  const server = createHttpServer((req, res) => serveRequest(handler, req, res));
  server.on('upgrade', (_req, socket) => respondRawSocket(socket, new BadRequestError('inbound/plaintext: upgrades are carried only over mTLS')));
  server.on('clientError', (error, socket) => {
    logger.debug('plaintext client error', { error: error.message });
    socket.destroy();
  });
  return {
    accept: (socket) => server.emit('connection', socket),
    close: () => server.closeAllConnections(),
  };
}

// A JavaScript Duplex over a socket: TLS on top of it reads what was already read and unshifted.
export function jsStream(socket: Socket): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
    final: (callback) => void socket.end(callback),
    destroy: (error, callback) => {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('error', (error) => stream.destroy(error));
  socket.once('close', () => stream.destroy());
  return stream;
}

function serveRequest(handler: InboundHandler, req: IncomingMessage, res: ServerResponse): void {
  const cancellation = new Cancellation();
  res.once('close', () => {
    if (!res.writableFinished) cancellation.cancel(undefined);
  });
  const request: InboundRequest = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    authority: req.headers.host ?? '',
    headers: { ...req.headers, ':method': req.method, ':path': req.url, ':authority': req.headers.host },
    body: req,
    upgrade: null,
    appPort: null,
    appProtocol: 'http1',
    peer: { ok: false, reason: 'sent plaintext' },
    plaintext: true,
    peerId: null,
    signal: cancellation,
  };
  handler(request).then(
    (response) => {
      const { ':status': status, ...headers } = response.headers;
      res.writeHead(Number(status ?? 502), headers);
      const body = response.body;
      if (Buffer.isBuffer(body)) res.end(body);
      else body.pipe(res);
    },
    (error: unknown) => respondHttp1(res, toMeshError(error, 'inbound')),
  );
}
