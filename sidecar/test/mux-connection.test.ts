// tsmesh/1 connections over real sockets: exchanges, flow control, resets, drain, stream limits and protocol errors, some against a hand-driven peer.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MuxConnection, type MuxConnectionOptions } from '../src/transport/mux/connection.js';
import { Code, decodeHeaders, FLAG_END, Frame, frameHeader, FrameReader, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, textFrame } from '../src/transport/mux/frames.js';
import type { MuxStream } from '../src/transport/mux/stream.js';

const sockets = new Set<Socket>();
afterEach(() => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
});

// Both ends of one TCP connection on 127.0.0.1; the listener closes once it has handed over its end.
async function socketPair(clientHalfOpen = false): Promise<{ client: Socket; server: Socket }> {
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

async function muxPair(serverOptions: MuxConnectionOptions = {}): Promise<{ client: MuxConnection; server: MuxConnection }> {
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
class RawPeer {
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
async function againstRawClient(options: MuxConnectionOptions = {}, rawHalfOpen = false): Promise<{ server: MuxConnection; raw: RawPeer }> {
  const pair = await socketPair(rawHalfOpen);
  return { server: new MuxConnection(pair.server, 'server', options), raw: new RawPeer(pair.client) };
}

// A client connection and a hand-driven server, greeted with HELLO when a limit is given.
async function againstRawServer(maxStreams?: number): Promise<{ client: MuxConnection; raw: RawPeer }> {
  const pair = await socketPair();
  const client = new MuxConnection(pair.client, 'client');
  const raw = new RawPeer(pair.server);
  if (maxStreams === undefined) return { client, raw };
  raw.send(hello(maxStreams));
  await once(client, 'hello');
  return { client, raw };
}

const headers = (id: number, text: string, end = false): Buffer => textFrame(Frame.headers, end ? FLAG_END : 0, id, [], text);
const hello = (maxStreams: number): Buffer => textFrame(Frame.hello, 0, 0, [maxStreams], '');
const reasonOf = (frame: RawFrame, prefix: number): string => frame.payload.toString('utf8', prefix * 4);

// Not `for await`: the async iterator destroys the whole Duplex when it finishes, which resets the stream.
function readAll(stream: MuxStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => reject(new Error(`closed before its end (${stream.rstCode}: ${stream.resetReason})`)));
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function response(stream: MuxStream): Promise<[IncomingHttpHeaders, number]> {
  return once(stream, 'response') as Promise<[IncomingHttpHeaders, number]>;
}

function closed(stream: MuxStream): Promise<unknown> {
  return stream.closed ? Promise.resolve() : once(stream, 'close');
}

describe('exchanges', () => {
  it('carries a request and its answer, with headers and bodies both ways', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 201, 'x-echo': head['x-in'], 'x-cookie': head.cookie, 'set-cookie': ['a=1', 'b=2'] });
        stream.end(`${String(head[':method'])} ${String(head[':path'])} got "${body.toString()}"`);
      });
    });
    const stream = client.request({ ':method': 'POST', ':path': '/orders', 'x-in': ['one', 'two'], cookie: ['a=1', 'b=2'] }, false);
    stream.end('the request body');
    const [head, flags] = await response(stream);
    expect(head).toMatchObject({ ':status': '201', 'x-echo': 'one, two', 'x-cookie': 'a=1; b=2', 'set-cookie': ['a=1', 'b=2'] });
    expect(flags & FLAG_END).toBe(0);
    expect((await readAll(stream)).toString()).toBe('POST /orders got "the request body"');
    await closed(stream);
    expect(stream.rstCode).toBe(Code.noError);
    expect(client.active).toBe(0);
  });

  it('a request and an answer without bodies end at their headers', async () => {
    const { client, server } = await muxPair();
    const seen = once(server, 'stream') as Promise<[MuxStream, IncomingHttpHeaders]>;
    const stream = client.request({ ':method': 'GET', ':path': '/' }, true);
    const [serverStream] = await seen;
    expect(serverStream.endAfterHeaders).toBe(true);
    serverStream.respond({ ':status': 204 }, { endStream: true });
    const [head, flags] = await response(stream);
    expect(head[':status']).toBe('204');
    expect(flags & FLAG_END).toBe(FLAG_END);
    expect(stream.endAfterHeaders).toBe(true);
    expect((await readAll(stream)).length).toBe(0);
    await Promise.all([closed(stream), closed(serverStream)]);
    expect([stream.rstCode, serverStream.rstCode]).toEqual([Code.noError, Code.noError]);
  });

  it('moves 5 MB up and 5 MB down through one stream at once, byte for byte', async () => {
    const { client, server } = await muxPair();
    const upload = randomBytes(5 * 1024 * 1024);
    const download = randomBytes(5 * 1024 * 1024);
    const received = new Promise<string>((resolve, reject) => {
      server.on('stream', (stream: MuxStream) => {
        stream.respond({ ':status': 200 });
        const uploaded = readAll(stream);
        // Ended only once the upload is in: an answer that ends first stops the upload (RFC 9113 8.1).
        const sendDownload = async (): Promise<void> => {
          for (const chunk of chunks(download, 100_000)) if (!stream.write(chunk)) await once(stream, 'drain');
          resolve(sha256(await uploaded));
          stream.end();
        };
        sendDownload().catch(reject);
      });
    });
    const stream = client.request({ ':method': 'PUT', ':path': '/blob' }, false);
    const sent = pipeline(Readable.from(chunks(upload, 70_000)), stream);
    const [body] = await Promise.all([readAll(stream), sent]);
    expect(sha256(body)).toBe(sha256(download));
    expect(await received).toBe(sha256(upload));
  });
});

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

describe('flow control', () => {
  it('a server that does not read stops the upload after one window; another stream still completes; reading resumes it', async () => {
    const { client, server } = await muxPair();
    const serverStreams: MuxStream[] = [];
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      serverStreams.push(stream);
      // "/slow" is left unread; the others answer at once.
      if (head[':path'] !== '/slow') void readAll(stream).then((body) => stream.respond({ ':status': 200, 'x-len': body.length }, { endStream: true }));
    });
    const before = client.socket.bytesWritten;
    const slow = client.request({ ':method': 'POST', ':path': '/slow' }, false);
    const piece = Buffer.alloc(8 * 1024, 1);
    let written = 0;
    while (slow.write(piece)) {
      written += piece.length;
      if (written > 4 * INITIAL_WINDOW) throw new Error('write() never pushed back');
    }
    // Writes complete at once while there is credit, then queue in the stream.
    expect(written).toBeGreaterThanOrEqual(INITIAL_WINDOW);
    expect(written).toBeLessThanOrEqual(INITIAL_WINDOW + 2 * slow.writableHighWaterMark);

    // A whole exchange on the same connection: no head-of-line stall behind the stopped upload.
    const quick = client.request({ ':method': 'POST', ':path': '/quick' }, false);
    quick.end('abc');
    const [quickHead] = await response(quick);
    expect(quickHead['x-len']).toBe('3');
    expect((await readAll(quick)).length).toBe(0);
    await closed(quick);

    const slowServer = serverStreams[0]!;
    // The slow stream's DATA went out before the quick HEADERS on one socket: all of it has arrived, exactly one window.
    expect(slowServer.readableLength).toBe(INITIAL_WINDOW);
    // On top of the window: frame headers, both request heads and the quick body, a few hundred bytes.
    expect(client.socket.bytesWritten - before).toBeLessThan(INITIAL_WINDOW + 4 * 1024);
    expect(slow.writableNeedDrain).toBe(true);
    expect(slow.writableLength).toBeGreaterThan(0);

    const total = written + 4 * INITIAL_WINDOW;
    const answered = response(slow);
    slowServer.on('end', () => slowServer.respond({ ':status': 200 }, { endStream: true }));
    const got = readAll(slowServer);
    const rest = Buffer.alloc(total - written - piece.length, 1);
    slow.end(rest);
    expect((await got).length).toBe(total);
    const [slowHead] = await answered;
    expect(slowHead[':status']).toBe('200');
    expect((await readAll(slow)).length).toBe(0);
    await closed(slow);
    expect(slow.rstCode).toBe(Code.noError);
  });

  it('a peer that sends more than the credit it was given gets the stream reset with FLOW_CONTROL', async () => {
    const { server, raw } = await againstRawClient();
    const seen = once(server, 'stream') as Promise<[MuxStream]>;
    raw.send(headers(1, ':path:/\n'));
    const [stream] = await seen;
    const frame = Buffer.alloc(MAX_FRAME_PAYLOAD);
    for (let i = 0; i <= INITIAL_WINDOW / MAX_FRAME_PAYLOAD; i++) raw.send(frameHeader(Frame.data, 0, 1, frame.length), frame);
    const reset = await raw.frame(Frame.reset, 1);
    expect(reset.payload.readUInt32BE(0)).toBe(Code.flowControl);
    expect(reasonOf(reset, 1)).toMatch(/credit/);
    await closed(stream);
    expect(stream.rstCode).toBe(Code.flowControl);
    expect(server.usable).toBe(true);
  });
});

describe('resets', () => {
  it('a server close(7, reason) reaches the client with its code and reason', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream) => stream.close(Code.refused, 'why'));
    const stream = client.request({ ':method': 'GET', ':path': '/' }, true);
    await closed(stream);
    expect(stream.rstCode).toBe(Code.refused);
    expect(stream.resetReason).toBe('why');
    expect(client.usable).toBe(true);
  });

  it('a client destroy() reaches the server as CANCEL', async () => {
    const { client, server } = await muxPair();
    const seen = once(server, 'stream') as Promise<[MuxStream]>;
    const stream = client.request({ ':method': 'POST', ':path': '/' }, false);
    stream.write('part of it');
    const [serverStream] = await seen;
    stream.destroy();
    await closed(serverStream);
    expect(serverStream.rstCode).toBe(Code.cancel);
    expect(serverStream.resetReason).toMatch(/abandoned/);
    expect(stream.rstCode).toBe(Code.cancel);
    expect(server.active).toBe(0);
  });

  it('a server that answers in full before the upload ended: the client reads the whole answer and the server stream closes', async () => {
    const { client, server } = await muxPair();
    let serverStream: MuxStream | undefined;
    server.on('stream', (stream: MuxStream) => {
      serverStream = stream;
      stream.respond({ ':status': 413 });
      stream.end('too large, stop');
    });
    const stream = client.request({ ':method': 'POST', ':path': '/upload' }, false);
    const answer = response(stream);
    const big = Buffer.alloc(64 * 1024);
    // More than a window: without the NO_ERROR reset these writes would wait for credit forever.
    for (let i = 0; i < 8; i++) stream.write(big);
    const [head] = await answer;
    expect(head[':status']).toBe('413');
    expect((await readAll(stream)).toString()).toBe('too large, stop');
    stream.end();
    await closed(stream);
    expect(stream.rstCode).toBe(Code.noError);
    expect(stream.resetReason).toMatch(/answered before/);
    // Regression: the server's readable side never ended, so its stream never emitted 'close'.
    await closed(serverStream!);
    expect(serverStream!.rstCode).toBe(Code.noError);
    expect(client.usable).toBe(true);
  });

  // Regression: DATA went out before HEADERS, a protocol error at the peer.
  it('a server that writes a body before its head resets the stream with INTERNAL', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream) => stream.write('no head yet'));
    const stream = client.request({ ':method': 'GET', ':path': '/' }, true);
    await closed(stream);
    expect(stream.rstCode).toBe(Code.internal);
    expect(stream.resetReason).toMatch(/before its head/);
    expect(client.usable).toBe(true);
  });
});

describe('drain', () => {
  it('a peer that drains: streams above its last id are refused, those below finish, and no new stream goes out', async () => {
    const { client, raw } = await againstRawServer(100);
    const [first, second, third] = [1, 2, 3].map((n) => client.request({ ':method': 'GET', ':path': `/${n}` }, true)) as [MuxStream, MuxStream, MuxStream];
    await raw.frame(Frame.headers, 5);
    const drained = once(client, 'drain');
    raw.send(textFrame(Frame.drain, 0, 0, [1, Code.noError], 'going away'));
    await drained;
    await Promise.all([closed(second), closed(third)]);
    for (const refused of [second, third]) {
      expect(refused.rstCode).toBe(Code.refused);
      expect(refused.resetReason).toMatch(/draining \(going away\); not processed/);
    }
    expect(client.usable).toBe(false);
    expect(client.failure).toBeNull();

    // Asked for anyway, a request is refused here without being sent.
    const late = client.request({ ':method': 'GET', ':path': '/late' }, true);
    await closed(late);
    expect(late.rstCode).toBe(Code.refused);
    expect(late.resetReason).toMatch(/not sent/);

    raw.send(headers(1, ':status:200\n', true));
    const [head] = await response(first);
    expect(head[':status']).toBe('200');
    expect((await readAll(first)).length).toBe(0);
    expect(first.rstCode).toBe(Code.noError);
    // The last stream done, the client closes its side; stream 7 never reached the wire.
    await raw.ended;
    expect(raw.frames.filter((f) => f.type === Frame.headers).map((f) => f.id)).toEqual([1, 3, 5]);
  });

  it('a server that drains refuses a stream opened afterwards with REFUSED and a reason, then closes when idle', async () => {
    const { server, raw } = await againstRawClient();
    const seen = once(server, 'stream') as Promise<[MuxStream]>;
    raw.send(headers(1, ':method:POST\n:path:/\n'));
    const [open] = await seen;
    server.drain('maintenance');
    const drain = await raw.frame(Frame.drain, 0);
    expect([drain.payload.readUInt32BE(0), drain.payload.readUInt32BE(4), reasonOf(drain, 2)]).toEqual([1, Code.noError, 'maintenance']);
    expect(server.usable).toBe(false);

    raw.send(headers(3, ':method:GET\n:path:/\n', true));
    const reset = await raw.frame(Frame.reset, 3);
    expect(reset.payload.readUInt32BE(0)).toBe(Code.refused);
    expect(reasonOf(reset, 1)).toMatch(/draining/);
    expect(server.active).toBe(1);

    // The stream it had finishes; then the connection ends.
    raw.send(frameHeader(Frame.data, FLAG_END, 1, 0));
    open.respond({ ':status': 200 }, { endStream: true });
    await raw.frame(Frame.headers, 1);
    await raw.ended;
    expect(open.rstCode).toBe(Code.noError);
  });

  // Regression: once the socket was ended, a refusal was written after end(): an 'error' on the socket taken as the failure.
  it('a stream that arrives after a drained server ended its side is not written after end()', async () => {
    const { server, raw } = await againstRawClient({}, true);
    server.drain('idle');
    await raw.ended;
    raw.send(headers(1, ':path:/\n', true));
    raw.socket.end();
    await once(server, 'close');
    expect(server.failure).toBeNull();
  });
});

describe('stream limits', () => {
  it('past the server\'s limit a request waits for a slot instead of being refused', async () => {
    const { client, server } = await muxPair({ maxStreams: 2 });
    const held: MuxStream[] = [];
    server.on('stream', (stream: MuxStream) => {
      held.push(stream);
      if (held.length === 1) return;
      stream.respond({ ':status': 200 }, { endStream: true });
    });
    const streams = [1, 2, 3].map((n) => client.request({ ':method': 'GET', ':path': `/${n}` }, true));
    expect(streams.map((s) => s.headersSent)).toEqual([true, true, false]);
    // The second frees its slot: the third goes out and is answered while the first still holds one.
    const [, second, third] = streams as [MuxStream, MuxStream, MuxStream];
    expect((await readAll(second)).length).toBe(0);
    await response(third);
    expect((await readAll(third)).length).toBe(0);
    await closed(third);
    expect(third.rstCode).toBe(Code.noError);
    expect(held.length).toBe(3);
    expect(client.active).toBe(1);
  });

  it('a server refuses a stream past its limit from a peer that does not wait, with REFUSED', async () => {
    const { server, raw } = await againstRawClient({ maxStreams: 2 });
    const opened: MuxStream[] = [];
    server.on('stream', (stream: MuxStream) => opened.push(stream));
    const helloFrame = await raw.frame(Frame.hello, 0);
    expect(helloFrame.payload.readUInt32BE(0)).toBe(2);
    raw.send(headers(1, ':path:/a\n'), headers(3, ':path:/b\n'), headers(5, ':path:/c\n'));
    const reset = await raw.frame(Frame.reset, 5);
    expect(reset.payload.readUInt32BE(0)).toBe(Code.refused);
    expect(reasonOf(reset, 1)).toMatch(/more than 2 concurrent streams/);
    expect(opened.map((s) => s.id)).toEqual([1, 3]);
    expect(server.usable).toBe(true);
  });
});

describe('protocol errors', () => {
  const fromClient: [string, Buffer, RegExp][] = [
    ['an oversized frame', Buffer.concat([frameHeader(Frame.data, 0, 1, MAX_FRAME_PAYLOAD + 1), Buffer.alloc(64)]), /65537 bytes, more than the 65536 allowed/],
    ['a bad header line', headers(3, ':path:/\nBad Name:x\n'), /header block that cannot be read: malformed header line "Bad Name:x"/],
    ['DATA for a stream never opened', frameHeader(Frame.data, 0, 9, 0), /DATA for stream 9, which was never opened/],
    ['an even stream id from a client', headers(2, ':path:/\n'), /a new stream with id 2, not an odd id above 1/],
    ['a stream id that goes backwards', headers(1, ':path:/\n'), /a new stream with id 1, not an odd id above 1/],
    ['a HELLO from a client', hello(5), /an unexpected HELLO frame/],
    ['a WINDOW without an increment', textFrame(Frame.window, 0, 1, [0], ''), /WINDOW frame without a positive increment/],
  ];
  for (const [what, bytes, reason] of fromClient) {
    it(`${what}: the server sends DRAIN with PROTOCOL and the reason, closes, and its open streams close with it`, async () => {
      const { server, raw } = await againstRawClient();
      const seen = once(server, 'stream') as Promise<[MuxStream]>;
      raw.send(headers(1, ':method:POST\n:path:/\n'));
      const [open] = await seen;
      const closing = once(server, 'close');
      raw.send(bytes);
      const drain = await raw.frame(Frame.drain, 0);
      expect(drain.payload.readUInt32BE(0)).toBe(1);
      expect(drain.payload.readUInt32BE(4)).toBe(Code.protocol);
      expect(reasonOf(drain, 2)).toMatch(reason);
      await raw.ended;
      await Promise.all([closing, closed(open)]);
      expect(open.rstCode).toBe(Code.protocol);
      expect(open.resetReason).toMatch(reason);
      expect(server.failure).toMatch(/^protocol error: /);
      expect(server.usable).toBe(false);
      // Nothing after the DRAIN: the bytes that broke the stream are not answered.
      expect(raw.frames.at(-1)?.type).toBe(Frame.drain);
    });
  }

  it('a server that sends HEADERS for a stream the client never opened: the client sends DRAIN with PROTOCOL and closes', async () => {
    const { client, raw } = await againstRawServer(1);
    const open = client.request({ ':method': 'GET', ':path': '/' }, true);
    // Waiting for the one slot: its id was never sent, so the peer cannot answer it either.
    const waiting = client.request({ ':method': 'GET', ':path': '/' }, true);
    await raw.frame(Frame.headers, 1);
    raw.send(headers(3, ':status:200\n', true));
    const drain = await raw.frame(Frame.drain, 0);
    expect(drain.payload.readUInt32BE(4)).toBe(Code.protocol);
    expect(reasonOf(drain, 2)).toBe('HEADERS for stream 3, which was never opened');
    // Regression: usable turns false at once, not when the socket finally closes.
    expect(client.usable).toBe(false);
    await Promise.all([closed(open), closed(waiting), raw.ended]);
    expect(open.rstCode).toBe(Code.protocol);
    expect(waiting.rstCode).toBe(Code.refused);
    expect(waiting.resetReason).toMatch(/never opened/);
    expect(raw.frames.filter((f) => f.type === Frame.headers).map((f) => f.id)).toEqual([1]);
  });

  it('frames for a stream that is already finished are late, not wrong', async () => {
    const { server, raw } = await againstRawClient();
    server.on('stream', (stream: MuxStream) => stream.close(Code.cancel, 'not wanted'));
    raw.send(headers(1, ':path:/\n'));
    await raw.frame(Frame.reset, 1);
    const data = Buffer.from('late');
    raw.send(frameHeader(Frame.data, 0, 1, data.length), data, textFrame(Frame.window, 0, 1, [100], ''), textFrame(Frame.reset, 0, 1, [Code.cancel], 'late'), headers(3, ':path:/\n'));
    await raw.frame(Frame.reset, 3);
    expect(raw.frames.some((f) => f.type === Frame.drain)).toBe(false);
    expect(server.usable).toBe(true);
  });
});

describe('connection close', () => {
  it('open streams are reset with the reason the connection ended; a request waiting for a slot is refused', async () => {
    const { client, server } = await muxPair({ maxStreams: 1 });
    const seen = once(server, 'stream') as Promise<[MuxStream]>;
    const open = client.request({ ':method': 'POST', ':path': '/' }, false);
    const waiting = client.request({ ':method': 'GET', ':path': '/' }, true);
    const [serverStream] = await seen;
    const serverClosed = once(server, 'close');
    client.destroy('the pool retired it');
    await Promise.all([closed(open), closed(waiting), closed(serverStream), serverClosed]);
    expect([open.rstCode, open.resetReason]).toEqual([Code.internal, 'the pool retired it']);
    // Regression: the first reset freed the slot and started the waiting request, which was then reset as sent.
    expect([waiting.rstCode, waiting.resetReason]).toEqual([Code.refused, 'the pool retired it']);
    expect([serverStream.rstCode, serverStream.resetReason]).toEqual([Code.internal, 'the connection to the peer closed']);
    expect(client.closed && server.closed).toBe(true);

    // Regression: a request on a closed connection was never sent and never closed.
    const late = client.request({ ':method': 'GET', ':path': '/' }, true);
    await closed(late);
    expect([late.rstCode, late.resetReason]).toEqual([Code.refused, 'not sent: the pool retired it']);
  });

  it('a socket that dies under a stream resets it with the socket\'s error', async () => {
    const { client, server } = await muxPair();
    const seen = once(server, 'stream') as Promise<[MuxStream]>;
    const open = client.request({ ':method': 'POST', ':path': '/' }, false);
    await seen;
    server.socket.resetAndDestroy();
    await closed(open);
    expect(open.rstCode).toBe(Code.internal);
    expect(open.resetReason).toMatch(/ECONNRESET|closed/);
  });

  // Regression: destroying a request that was still waiting sent a RESET for an id the peer had never seen.
  it('a request given up while it waits for a slot sends nothing', async () => {
    const { client, raw } = await againstRawServer(1);
    const first = client.request({ ':method': 'GET', ':path': '/' }, true);
    const waiting = client.request({ ':method': 'GET', ':path': '/' }, true);
    waiting.destroy();
    await closed(waiting);
    raw.send(headers(1, ':status:200\n', true));
    expect((await readAll(first)).length).toBe(0);
    client.request({ ':method': 'GET', ':path': '/next' }, true);
    await raw.frame(Frame.headers, 5);
    expect(raw.frames.filter((f) => f.type !== Frame.window).map((f) => [f.type, f.id])).toEqual([[Frame.headers, 1], [Frame.headers, 5]]);
  });
});

// Regression: frames after the one whose handler destroyed the connection were still acted on (a 'stream' on a dead socket).
it('a connection destroyed by a frame\'s handler acts on nothing else from the same read', async () => {
  const { server, raw } = await againstRawClient();
  const opened: number[] = [];
  server.on('stream', (stream: MuxStream) => {
    opened.push(stream.id);
    server.destroy('enough');
  });
  raw.send(headers(1, ':path:/\n'), headers(3, ':path:/\n'), headers(5, ':path:/\n'));
  await once(server, 'close');
  expect(opened).toEqual([1]);
  expect(server.failure).toBe('enough');
});

describe('idle', () => {
  it('a connection without streams drains and closes after its idle timeout', async () => {
    const { server, raw } = await againstRawClient({ idleTimeoutMs: 50 });
    const drain = await raw.frame(Frame.drain, 0);
    expect([drain.payload.readUInt32BE(4), reasonOf(drain, 2)]).toEqual([Code.noError, 'idle']);
    await Promise.all([raw.ended, once(server, 'close')]);
    expect(server.failure).toBeNull();
  });
});

it('decodes what it sends: the request head reaches the peer as written', async () => {
  const { client, raw } = await againstRawServer();
  client.request({ ':method': 'GET', ':path': '/a?b=c', 'x-multi': ['1', '2'] }, true);
  const frame = await raw.frame(Frame.headers, 1);
  expect(frame.flags).toBe(FLAG_END);
  expect({ ...decodeHeaders(frame.payload) }).toEqual({ ':method': 'GET', ':path': '/a?b=c', 'x-multi': '1, 2' });
});
