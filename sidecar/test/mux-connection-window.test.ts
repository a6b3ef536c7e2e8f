// tsmesh/1's connection-wide credit over real sockets: a peer's unread bodies stay within one window, and read or dropped bytes come back.
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, CONNECTION_WINDOW, Frame, frameHeader, INITIAL_WINDOW } from '../src/transport/mux/frames.js';
import type { MuxStream } from '../src/transport/mux/stream.js';
import { againstRawClient, closed, destroySockets, headers, muxPair, readAll, reasonOf, response } from './support/mux-peer.js';

afterEach(() => destroySockets());

// Resolves once the value has not changed for a few event-loop turns: the sender has stopped.
async function settledValue(read: () => number): Promise<number> {
  let last = -1;
  for (let quiet = 0; quiet < 5; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = read();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

describe('connection window', () => {
  it('keeps the unread bodies of all streams within the connection window; a GET still passes; reading lets every upload finish', async () => {
    const { client, server } = await muxPair();
    const held: MuxStream[] = [];
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      if (head[':method'] === 'GET') stream.respond({ ':status': 204 }, { endStream: true });
      else held.push(stream);
    });
    const streams = 24;
    const bodyBytes = 2 * INITIAL_WINDOW;
    const replies: Promise<Buffer>[] = [];
    for (let i = 0; i < streams; i++) {
      const stream = client.request({ ':method': 'POST', ':path': `/upload/${i}` }, false);
      stream.duplex().end(Buffer.alloc(bodyBytes, i));
      replies.push(response(stream).then(() => readAll(stream)));
    }
    // 24 streams x 256 KiB of their own credit would be 6 MiB; the connection grants 4 MiB.
    const written = await settledValue(() => client.socket.bytesWritten);
    const frameOverhead = 64 * 1024; // headers and 9-byte frame heads, generously
    expect(written).toBeGreaterThan(CONNECTION_WINDOW / 2);
    expect(written).toBeLessThan(CONNECTION_WINDOW + frameOverhead);

    const get = client.request({ ':method': 'GET', ':path': '/' }, true);
    expect((await response(get))[0][':status']).toBe('204');

    const answers = held.map((stream) =>
      readAll(stream).then((body) => {
        stream.respond({ ':status': 200 });
        stream.duplex().end(String(body.length));
      }),
    );
    await Promise.all(answers);
    const lengths = await Promise.all(replies);
    expect(lengths.map(String)).toEqual(Array.from({ length: streams }, () => String(bodyBytes)));
  });

  it('gives back the credit of small bodies that never need a stream WINDOW: 600 uploads of 16 KiB (over twice the window) in turn', async () => {
    const { client, server } = await muxPair();
    server.on('stream', (stream: MuxStream) => {
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 200 });
        stream.duplex().end(String(body.length));
      });
    });
    const body = Buffer.alloc(16 * 1024, 1);
    for (let i = 0; i < 600; i++) {
      const stream = client.request({ ':method': 'POST', ':path': '/' }, false);
      stream.duplex().end(body);
      await response(stream);
      expect((await readAll(stream)).toString()).toBe(String(body.length));
    }
  });

  it('gives back the credit of bodies dropped with their stream, so a later upload still passes', async () => {
    const { client, server } = await muxPair();
    let refused = 0;
    server.on('stream', (stream: MuxStream, head: IncomingHttpHeaders) => {
      if (head[':path'] === '/refuse') {
        refused++;
        stream.close(Code.refused, 'not now');
        return;
      }
      void readAll(stream).then((body) => {
        stream.respond({ ':status': 200 });
        stream.duplex().end(String(body.length));
      });
    });
    // Each refused upload leaves up to a window in flight: 30 x 256 KiB is well over the connection's 4 MiB.
    for (let i = 0; i < 30; i++) {
      const stream = client.request({ ':method': 'POST', ':path': '/refuse' }, false);
      stream.duplex().end(Buffer.alloc(INITIAL_WINDOW, 2));
      await closed(stream);
      expect(stream.rstCode).toBe(Code.refused);
    }
    const last = client.request({ ':method': 'POST', ':path': '/accept' }, false);
    last.duplex().end(Buffer.alloc(INITIAL_WINDOW, 3));
    await response(last);
    expect((await readAll(last)).toString()).toBe(String(INITIAL_WINDOW));
    expect(refused).toBe(30);
  });

  it('ends the connection with DRAIN PROTOCOL when a peer sends more than the connection credit', async () => {
    const { server, raw } = await againstRawClient({ maxStreams: 100 });
    server.on('stream', () => undefined);
    const chunk = Buffer.alloc(64 * 1024);
    // 17 streams x 256 KiB of their own credit: the 65th frame of 64 KiB overruns the 4 MiB.
    for (let id = 1; id <= 33; id += 2) raw.send(headers(id, ':method:POST\n:path:/\n'));
    for (let frame = 0; frame < CONNECTION_WINDOW / chunk.length + 1; frame++) {
      const id = 1 + 2 * Math.floor(frame / (INITIAL_WINDOW / chunk.length));
      raw.send(frameHeader(Frame.data, 0, id, chunk.length), chunk);
    }
    const drain = await raw.frame(Frame.drain, 0);
    expect(drain.payload.readUInt32BE(4)).toBe(Code.protocol);
    expect(reasonOf(drain, 2)).toContain('connection credit');
  });
});
