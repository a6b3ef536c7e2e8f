// HTTP/1.1 requests to the local app over keep-alive connections of our own (decision 0017, stage 3):
// the request written by hand, the answer framed by the same strict parser as the outbound side.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { BadRequestError } from '../../errors.js';
import { h1ResponseToH2, PEER_IDENTITY_HEADER } from '../../pipeline/headers.js';
import { TARGET, TOKEN } from '../../transport/http1-head.js';
import { http1Head, writeChunk, type FieldFilter } from '../../transport/http1-write.js';
import { AppConnection, type ExchangeEvents, type ExchangeResult } from './app-h1-connection.js';
import { appUnavailable, notFromCaller } from './app-request.js';
import type { AppResponse, InboundRequest } from './types.js';
import type { CancelSignal } from '../../pipeline/cancellation.js';

const SMALL_BODY_BYTES = 64 * 1024;
// Methods whose requests carry a payload: without a body they still say so (Content-Length: 0), as node:http does.
const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export class H1AppPool {
  // Per app port, the connections waiting for a request; the last one back is the next one out.
  private readonly idle = new Map<number, AppConnection[]>();
  private readonly open = new Set<Socket>();

  // idleTimeoutMs: below the app's keep-alive timeout, so the app never closes a connection we are about to reuse.
  constructor(
    private readonly host: string,
    private readonly idleTimeoutMs: number,
  ) {}

  // For any request but an upgrade.
  request(req: InboundRequest, port: number): Promise<AppResponse> {
    const body = req.body;
    if (body === null) return this.send(req, port, null);
    // A small body of known length goes to the app in the same write as the head.
    if (Number(req.headers['content-length']) <= SMALL_BODY_BYTES) return readSmallBody(body).then((bytes) => this.send(req, port, bytes));
    return this.send(req, port, body);
  }

  private send(req: InboundRequest, port: number, upload: Buffer | Readable | null): Promise<AppResponse> {
    const head = requestHead(req, upload);
    if (head instanceof BadRequestError) return Promise.reject(head);
    return new Promise<AppResponse>((resolve, reject) => {
      const connection = this.checkout(port);
      const exchange = new AppExchange(this, port, connection, req.signal, resolve, reject);
      connection.begin(req.method === 'HEAD', exchange);
      if (req.signal.aborted) return exchange.cancel();
      req.signal.addEventListener('abort', exchange.cancel);
      writeRequest(connection.socket, head, upload, () => connection.sent());
    });
  }

  // The connection is clean after its exchange: the next request to this port takes it.
  checkin(port: number, connection: AppConnection): void {
    let list = this.idle.get(port);
    if (list === undefined) this.idle.set(port, (list = []));
    list.push(connection);
  }

  // "host:port", for an error that names where the app was called.
  where(port: number): string {
    return `${this.host}:${port}`;
  }

  private checkout(port: number): AppConnection {
    const list = this.idle.get(port);
    for (let connection = list?.pop(); connection !== undefined; connection = list?.pop()) if (connection.idle) return connection;
    const connection = new AppConnection(this.host, port, this.idleTimeoutMs, (lost) => this.forget(port, lost));
    const socket = connection.socket;
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    return connection;
  }

  private forget(port: number, connection: AppConnection): void {
    const list = this.idle.get(port);
    const at = list?.indexOf(connection) ?? -1;
    if (at >= 0) list?.splice(at, 1);
  }

  close(): void {
    for (const socket of this.open) socket.destroy();
    this.idle.clear();
  }
}

// One request's side of an exchange on a pooled connection: one object per request instead of a closure per event.
class AppExchange implements ExchangeEvents {
  constructor(
    private readonly pool: H1AppPool,
    private readonly port: number,
    private readonly connection: AppConnection,
    private readonly signal: CancelSignal,
    private readonly resolve: (response: AppResponse) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  // The peer cancelled (timeout, caller gone): the app must see its request aborted, not keep working.
  readonly cancel = (): void => this.connection.abort();

  answered({ head, body }: ExchangeResult): void {
    this.resolve({ headers: h1ResponseToH2(head.headers, head.status), body, tunnel: null, head: null });
  }

  failed(error: Error & { code?: string }): void {
    this.reject(appUnavailable(error, this.pool.where(this.port)));
  }

  finished(reusable: boolean): void {
    this.signal.removeEventListener('abort', this.cancel);
    if (reusable) this.pool.checkin(this.port, this.connection);
  }
}

interface AppRequestHead {
  // The head, and a body held as a Buffer right after it: one write.
  bytes: Buffer;
  // A streamed body of unknown length goes chunked.
  chunked: boolean;
}

// notFromCaller, and the caller's Content-Length too, replaced by the length of the body as read.
const notFromCallerNorLength: FieldFilter = (name) => notFromCaller(name) || name === 'content-length';

// The fields appH1Headers would give the app (the caller's, then host and the peer identity), written as
// one head without building that map.
function requestHead(req: InboundRequest, upload: Buffer | Readable | null): AppRequestHead | BadRequestError {
  if (!TOKEN.test(req.method) || !TARGET.test(req.path)) return new BadRequestError(`inbound/app: the request cannot be sent to the app as HTTP/1.1 (method "${req.method.slice(0, 50)}", path "${req.path.slice(0, 200)}")`);
  const callerLength = req.headers['content-length'];
  const chunked = upload !== null && !Buffer.isBuffer(upload) && callerLength === undefined;
  const head = http1Head.start().text(req.method).text(' ').text(req.path).text(' HTTP/1.1\r\n');
  head.fields(req.headers, Buffer.isBuffer(upload) ? notFromCallerNorLength : notFromCaller).line('host', req.authority);
  if (req.peerId !== null) head.line(PEER_IDENTITY_HEADER, req.peerId);
  if (Buffer.isBuffer(upload)) head.line('content-length', String(upload.length));
  else if (chunked) head.text('transfer-encoding: chunked\r\n');
  else if (upload === null && callerLength === undefined && PAYLOAD_METHODS.has(req.method)) head.text('content-length: 0\r\n');
  return { bytes: head.done(Buffer.isBuffer(upload) && upload.length > 0 ? upload : undefined), chunked };
}

// Writes the head and the body (a Buffer is already in the head's bytes; a stream goes with backpressure, chunked unless its length is known).
function writeRequest(socket: Socket, head: AppRequestHead, upload: Buffer | Readable | null, sent: () => void): void {
  if (upload === null || Buffer.isBuffer(upload)) {
    socket.write(head.bytes);
    sent();
    return;
  }
  const chunked = head.chunked;
  socket.write(head.bytes);
  const resume = (): void => {
    upload.resume();
  };
  const onData = (chunk: Buffer): void => {
    if (!(chunked ? writeChunk(socket, chunk) : socket.write(chunk))) {
      upload.pause();
      socket.once('drain', resume);
    }
  };
  // The connection is gone (the app answered early, or failed): the rest of the upload is read and dropped.
  const onClose = (): void => {
    upload.off('data', onData);
    socket.off('drain', resume);
    upload.resume();
  };
  upload.on('data', onData);
  upload.once('end', () => {
    // The connection may go back to the pool: nothing of this upload stays on it.
    socket.off('close', onClose);
    socket.off('drain', resume);
    if (chunked && !socket.destroyed) socket.write('0\r\n\r\n', 'latin1');
    sent();
  });
  // The peer reset its stream mid-upload: the app sees its request aborted.
  upload.once('close', () => {
    if (!upload.readableEnded) socket.destroy();
  });
  socket.once('close', onClose);
}

// The whole of a body the caller declared small; rejects if it stops short (the peer reset the stream).
function readSmallBody(body: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
    });
    body.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes)));
    body.once('close', () => {
      if (!body.readableEnded) reject(new BadRequestError('inbound/app: the request body stopped before its end'));
    });
  });
}
