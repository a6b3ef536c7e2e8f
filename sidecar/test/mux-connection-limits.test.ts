// tsmesh/1 connections over real sockets: drain, stream limits, protocol errors, connection close and idle, partly against a hand-driven peer.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, decodeHeaders, FLAG_END, Frame, frameHeader, MAX_FRAME_PAYLOAD, textFrame } from '../src/transport/mux/frames.js';
import type { MuxStream } from '../src/transport/mux/stream.js';
import { againstRawClient, againstRawServer, closed, destroySockets, headers, hello, muxPair, readAll, reasonOf, response } from './support/mux-peer.js';

afterEach(() => destroySockets());

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
