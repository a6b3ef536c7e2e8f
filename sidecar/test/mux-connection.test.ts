// tsmesh/1 connections over real sockets: exchanges, flow control and resets.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, FLAG_END, Frame, frameHeader, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, textFrame } from '../src/transport/mux/frames.js';
import type { MuxStream } from '../src/transport/mux/stream.js';
import { againstRawClient, againstRawServer, closed, destroySockets, headers, muxPair, readAll, reasonOf, response, sha256 } from './support/mux-peer.js';

afterEach(() => destroySockets());

describe('exchanges', () => {
  it('carries a request and its answer, with headers and bodies both ways', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 201, 'x-echo': head['x-in'], 'x-cookie': head.cookie, 'set-cookie': ['a=1', 'b=2'] });
        stream.duplex().end(`${String(head[':method'])} ${String(head[':path'])} got "${body.toString()}"`);
      });
    });
    const stream = client.request({ ':method': 'POST', ':path': '/orders', 'x-in': ['one', 'two'], cookie: ['a=1', 'b=2'] }, false);
    stream.duplex().end('the request body');
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
          for (const chunk of chunks(download, 100_000)) if (!stream.duplex().write(chunk)) await once(stream.duplex(), 'drain');
          resolve(sha256(await uploaded));
          stream.duplex().end();
        };
        sendDownload().catch(reject);
      });
    });
    const stream = client.request({ ':method': 'PUT', ':path': '/blob' }, false);
    const sent = pipeline(Readable.from(chunks(upload, 70_000)), stream.duplex());
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
    while (slow.duplex().write(piece)) {
      written += piece.length;
      if (written > 4 * INITIAL_WINDOW) throw new Error('write() never pushed back');
    }
    // Writes complete at once while there is credit, then queue in the stream.
    expect(written).toBeGreaterThanOrEqual(INITIAL_WINDOW);
    expect(written).toBeLessThanOrEqual(INITIAL_WINDOW + 2 * slow.duplex().writableHighWaterMark);

    // A whole exchange on the same connection: no head-of-line stall behind the stopped upload.
    const quick = client.request({ ':method': 'POST', ':path': '/quick' }, false);
    quick.duplex().end('abc');
    const [quickHead] = await response(quick);
    expect(quickHead['x-len']).toBe('3');
    expect((await readAll(quick)).length).toBe(0);
    await closed(quick);

    const slowServer = serverStreams[0]!;
    // The slow stream's DATA went out before the quick HEADERS on one socket: all of it has arrived, exactly one window.
    expect(slowServer.duplex().readableLength).toBe(INITIAL_WINDOW);
    // On top of the window: frame headers, both request heads and the quick body, a few hundred bytes.
    expect(client.socket.bytesWritten - before).toBeLessThan(INITIAL_WINDOW + 4 * 1024);
    expect(slow.duplex().writableNeedDrain).toBe(true);
    expect(slow.duplex().writableLength).toBeGreaterThan(0);

    const total = written + 4 * INITIAL_WINDOW;
    const answered = response(slow);
    slowServer.duplex().on('end', () => slowServer.respond({ ':status': 200 }, { endStream: true }));
    const got = readAll(slowServer);
    const rest = Buffer.alloc(total - written - piece.length, 1);
    slow.duplex().end(rest);
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
    stream.duplex().write('part of it');
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
      stream.duplex().end('too large, stop');
    });
    const stream = client.request({ ':method': 'POST', ':path': '/upload' }, false);
    const answer = response(stream);
    const big = Buffer.alloc(64 * 1024);
    // More than a window: without the NO_ERROR reset these writes would wait for credit forever.
    for (let i = 0; i < 8; i++) stream.duplex().write(big);
    const [head] = await answer;
    expect(head[':status']).toBe('413');
    expect((await readAll(stream)).toString()).toBe('too large, stop');
    stream.duplex().end();
    await closed(stream);
    expect(stream.rstCode).toBe(Code.noError);
    expect(stream.resetReason).toMatch(/answered before/);
    // Regression: the server's readable side never ended, so its stream never emitted 'close'.
    await closed(serverStream!);
    expect(serverStream!.rstCode).toBe(Code.noError);
    expect(client.usable).toBe(true);
  });

  it('respondWhole sends head and body at once, splits a body past a frame, and stops an upload it answered early', async () => {
    const { client, server } = await muxPair();
    const big = randomBytes(MAX_FRAME_PAYLOAD * 3 + 5);
    const serverStreams: MuxStream[] = [];
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      serverStreams.push(stream);
      const path = String(head[':path']);
      stream.respondWhole({ ':status': path === '/upload' ? 413 : 200, 'x-path': path }, path === '/big' ? big : path === '/empty' ? Buffer.alloc(0) : Buffer.from(`whole ${path}`));
    });
    const small = client.request({ ':method': 'GET', ':path': '/small' }, true);
    const [smallHead, smallFlags] = await response(small);
    expect(smallHead).toMatchObject({ ':status': '200', 'x-path': '/small' });
    expect(smallFlags & FLAG_END).toBe(0);
    expect((await readAll(small)).toString()).toBe('whole /small');
    const empty = client.request({ ':method': 'GET', ':path': '/empty' }, true);
    const [, emptyFlags] = await response(empty);
    expect(emptyFlags & FLAG_END).toBe(FLAG_END);
    expect((await readAll(empty)).length).toBe(0);
    const large = client.request({ ':method': 'GET', ':path': '/big' }, true);
    await response(large);
    expect(sha256(await readAll(large))).toBe(sha256(big));
    const upload = client.request({ ':method': 'POST', ':path': '/upload' }, false);
    upload.duplex().write(Buffer.alloc(1024));
    const [uploadHead] = await response(upload);
    expect(uploadHead[':status']).toBe('413');
    expect((await readAll(upload)).toString()).toBe('whole /upload');
    upload.duplex().end();
    await Promise.all([small, empty, large, upload, ...serverStreams].map((stream) => closed(stream)));
    expect(serverStreams.map((stream) => stream.rstCode)).toEqual([Code.noError, Code.noError, Code.noError, Code.noError]);
    expect(upload.resetReason).toMatch(/answered before/);
    expect([client.active, server.active]).toEqual([0, 0]);
  });

  it('readWhole takes an answer that has all arrived, and leaves one still coming to be read as a stream', async () => {
    const { client, server } = await muxPair();
    const later: MuxStream[] = [];
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      if (head[':path'] === '/now') return stream.respondWhole({ ':status': 200 }, Buffer.from('all here'));
      if (head[':path'] === '/empty') return stream.respond({ ':status': 204 }, { endStream: true });
      stream.respond({ ':status': 200 });
      stream.duplex().write('first ');
      later.push(stream);
    });
    const now = client.request({ ':method': 'GET', ':path': '/now' }, true);
    await response(now);
    await new Promise((resolve) => setImmediate(resolve));
    expect(now.readWhole()?.toString()).toBe('all here');
    await closed(now);
    expect(now.rstCode).toBe(Code.noError);
    const empty = client.request({ ':method': 'GET', ':path': '/empty' }, true);
    await response(empty);
    expect(empty.readWhole()?.length).toBe(0);
    await closed(empty);
    const streaming = client.request({ ':method': 'GET', ':path': '/later' }, true);
    await response(streaming);
    await new Promise((resolve) => setImmediate(resolve));
    expect(streaming.readWhole()).toBeNull();
    later[0]!.duplex().end('then the rest');
    expect((await readAll(streaming)).toString()).toBe('first then the rest');
    await closed(streaming);
    expect([client.active, server.active]).toEqual([0, 0]);
  });

  it('a request body nobody read (no Duplex was made) is dropped when the answer ends the exchange, and its credit goes back', async () => {
    const { server, raw } = await againstRawClient();
    const streams: MuxStream[] = [];
    server.on('stream', (stream: MuxStream) => streams.push(stream));
    const body = Buffer.alloc(MAX_FRAME_PAYLOAD, 7);
    // 5 x 256 KiB: past the quarter of the connection window after which the server gives credit back.
    const ids = [1, 3, 5, 7, 9];
    const sent = raw.socket.bytesWritten;
    for (const id of ids) {
      const data = [0, 1, 2, 3].map((i) => Buffer.concat([frameHeader(Frame.data, i === 3 ? FLAG_END : 0, id, body.length), body]));
      raw.send(headers(id, ':method:POST\n:path:/upload\n'), ...data);
    }
    const total = (await new Promise<number>((resolve) => raw.socket.write('', () => resolve(raw.socket.bytesWritten)))) - sent;
    // Answered only once every body is in, unread: the exchanges end whole, not as uploads cut short.
    while (server.socket.bytesRead < total) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const stream of streams) stream.respondWhole({ ':status': 200 }, Buffer.from('ignored'));
    for (const id of ids) {
      const answer = await raw.frame(Frame.data, id);
      expect(answer.flags & FLAG_END).toBe(FLAG_END);
      expect(answer.payload.toString()).toBe('ignored');
    }
    const granted = await raw.frame(Frame.window, 0);
    expect(granted.payload.readUInt32BE(0)).toBeGreaterThanOrEqual(4 * 4 * body.length);
    expect(raw.frames.filter((f) => f.type === Frame.reset)).toEqual([]);
    await Promise.all(streams.map((stream) => closed(stream)));
    expect(streams.map((stream) => stream.rstCode)).toEqual(ids.map(() => Code.noError));
    expect(server.active).toBe(0);
  });

  it('a stream reset before anyone read its answer closes once, even if its body is asked for afterwards', async () => {
    const { client, raw } = await againstRawServer(10);
    const stream = client.request({ ':method': 'GET', ':path': '/' }, true);
    let closes = 0;
    stream.on('close', () => closes++);
    await raw.frame(Frame.headers, stream.id);
    // The answer's head and a reset in one read: by the time the caller looks, the stream is gone.
    raw.send(headers(stream.id, ':status:200\n'), textFrame(Frame.reset, 0, stream.id, [Code.internal], 'app went away'));
    await response(stream);
    expect(stream.readWhole()).toBeNull();
    const body = stream.duplex();
    await closed(stream);
    await new Promise((resolve) => setImmediate(resolve));
    expect(body.destroyed).toBe(true);
    expect(closes).toBe(1);
    expect(stream.rstCode).toBe(Code.internal);
  });

  // Regression: DATA went out before HEADERS, a protocol error at the peer.
  it('a server that writes a body before its head resets the stream with INTERNAL', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream) => stream.duplex().write('no head yet'));
    const stream = client.request({ ':method': 'GET', ':path': '/' }, true);
    await closed(stream);
    expect(stream.rstCode).toBe(Code.internal);
    expect(stream.resetReason).toMatch(/before its head/);
    expect(client.usable).toBe(true);
  });
});
