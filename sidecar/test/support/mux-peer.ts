// tsmesh/1 test peers over real sockets: connected pairs, a hand-driven peer that records frames, and stream readers.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { MuxConnection, type MuxConnectionOptions } from '../../src/transport/mux/connection.js';
import { FLAG_END, Frame, FrameReader, textFrame } from '../../src/transport/mux/frames.js';
import type { MuxStream } from '../../src/transport/mux/stream.js';

const sockets = new Set<Socket>();

// For afterEach: every socket a pair made is destroyed.
export function destroySockets(): void {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
}

// Both ends of one TCP connection on 127.0.0.1; the listener closes once it has handed over its end.
export async function socketPair(clientHalfOpen = false): Promise<{ client: Socket; server: Socket }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as { port: number };
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: clientHalfOpen });
  sockets.add(client);
  const [[server]] = await Promise.all([accepted, once(client, 'connect')]);
  sockets.add(server);
  listener.close();
  return { client, server };
}

export async function muxPair(serverOptions: MuxConnectionOptions = {}): Promise<{ client: MuxConnection; server: MuxConnection }> {
  const pair = await socketPair();
  const server = new MuxConnection(pair.server, 'server', serverOptions);
  const client = new MuxConnection(pair.client, 'client');
  await once(client, 'hello');
  return { client, server };
}

interface RawFrame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

// A peer written by hand: it sends whatever bytes a test gives it and records each frame it reads.
export class RawPeer {
  readonly frames: RawFrame[] = [];
  readonly ended: Promise<unknown>;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    const reader = new FrameReader({
      frame: (type, flags, id, payload) => {
        this.frames.push({ type, flags, id, payload: Buffer.from(payload) });
        for (const wake of this.waiters.splice(0)) wake();
      },
      malformed: (reason) => socket.destroy(new Error(reason)),
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    this.ended = once(socket, 'end');
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  async frame(type: number, id: number): Promise<RawFrame> {
    for (;;) {
      const found = this.frames.find((f) => f.type === type && f.id === id);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

// A server connection and a hand-driven client on the other end.
export async function againstRawClient(options: MuxConnectionOptions = {}, rawHalfOpen = false): Promise<{ server: MuxConnection; raw: RawPeer }> {
  const pair = await socketPair(rawHalfOpen);
  return { server: new MuxConnection(pair.server, 'server', options), raw: new RawPeer(pair.client) };
}

// A client connection and a hand-driven server, greeted with HELLO when a limit is given.
export async function againstRawServer(maxStreams?: number): Promise<{ client: MuxConnection; raw: RawPeer }> {
  const pair = await socketPair();
  const client = new MuxConnection(pair.client, 'client');
  const raw = new RawPeer(pair.server);
  if (maxStreams === undefined) return { client, raw };
  raw.send(hello(maxStreams));
  await once(client, 'hello');
  return { client, raw };
}

export const headers = (id: number, text: string, end = false): Buffer => textFrame(Frame.headers, end ? FLAG_END : 0, id, [], text);
export const hello = (maxStreams: number): Buffer => textFrame(Frame.hello, 0, 0, [maxStreams], '');
export const reasonOf = (frame: RawFrame, prefix: number): string => frame.payload.toString('utf8', prefix * 4);

// Not `for await`: the async iterator destroys the whole Duplex when it finishes, which resets the stream.
export function readAll(stream: MuxStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const body = stream.duplex();
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => reject(new Error(`closed before its end (${stream.rstCode}: ${stream.resetReason})`)));
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function response(stream: MuxStream): Promise<[IncomingHttpHeaders, number]> {
  return once(stream, 'response') as Promise<[IncomingHttpHeaders, number]>;
}

export function closed(stream: MuxStream): Promise<unknown> {
  return stream.closed ? Promise.resolve() : once(stream, 'close');
}
