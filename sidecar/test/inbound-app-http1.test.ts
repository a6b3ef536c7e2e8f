// The inbound side's own HTTP/1.1 client to the app, against apps that write their answers byte by byte.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { send } from './support/mesh.js';
import { shopPair } from './support/shop-pair.js';

const { cleanup, start } = shopPair();

interface RawApp {
  port: number;
  connections: number;
  requests: string[];
}

// An app on a raw socket: answer(requestHead, socket) writes whatever bytes the test wants, once per request head.
async function rawApp(answer: (head: string, socket: Socket) => void): Promise<RawApp> {
  const app: RawApp = { port: 0, connections: 0, requests: [] };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    app.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      buffered += text;
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        app.requests.push(head + (length > 0 ? `\r\n\r\n${buffered.slice(end + 4, end + 4 + length)}` : ''));
        buffered = buffered.slice(end + 4 + length);
        answer(head, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  app.port = (server.address() as AddressInfo).port;
  return app;
}

async function pairFor(app: RawApp): Promise<number> {
  const pair = await start(app.port);
  return pair.outboundPort;
}

const get = (port: number, path: string, method = 'GET'): ReturnType<typeof send> => send(port, { method, path, headers: { host: 'orders.shop' } });

describe('inbound HTTP/1.1 to the app', () => {
  it('reuses one keep-alive connection, and sends small bodies with their length in the head', async () => {
    const app = await rawApp((_head, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const port = await pairFor(app);
    for (let i = 0; i < 5; i++) expect((await get(port, `/n${i}`)).body).toBe('ok');
    expect((await send(port, { method: 'POST', path: '/p', headers: { host: 'orders.shop', 'content-length': '5' }, body: 'hello' })).body).toBe('ok');
    expect((await get(port, '/empty', 'PUT')).status).toBe(200);
    expect(app.connections).toBe(1);
    expect(app.requests[5]).toMatch(/^POST \/p HTTP\/1\.1\r\n(?:[^\r\n]+\r\n)*content-length: 5\r\n(?:[^\r\n]+\r\n)*\r\nhello$/);
    // A PUT without a body still says it has none.
    expect(app.requests[6]).toMatch(/\r\ncontent-length: 0(\r\n|$)/);
  });

  it('keeps each answer its own when many come from the app at once (every read lands in one reused buffer)', async () => {
    const count = 24;
    const held: (() => void)[] = [];
    const app = await rawApp((head, socket) => {
      const body = `answer for ${/^GET (\S+)/.exec(head)?.[1] ?? '?'}. `.repeat(20);
      held.push(() => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`));
      // Every answer leaves in one turn once all requests are in, so the sidecar reads them in one turn too,
      // before the frames carrying the first of them are flushed.
      if (held.length === count) for (const write of held.splice(0)) write();
    });
    const port = await pairFor(app);
    const replies = await Promise.all(Array.from({ length: count }, (_, i) => get(port, `/item/${i}`)));
    replies.forEach((reply, i) => expect(reply.body).toBe(`answer for /item/${i}. `.repeat(20)));
  });

  it('reads chunked answers with trailers, skips 100 Continue, and passes HEAD answers without a body', async () => {
    const app = await rawApp((head, socket) => {
      if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n');
      else socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-app: 1\r\n\r\n4;ext\r\nabcd\r\n2\r\nef\r\n0\r\nx-trailer: t\r\n\r\n');
    });
    const port = await pairFor(app);
    const chunked = await get(port, '/c');
    expect(chunked).toMatchObject({ status: 200, body: 'abcdef' });
    expect(chunked.headers['x-app']).toBe('1');
    const head = await get(port, '/h', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('1234');
    expect((await get(port, '/c')).body).toBe('abcdef');
    expect(app.connections).toBe(1);
  });

  it('reads a body that comes after its head, and does not reuse a connection the app wrote past its answer', async () => {
    const app = await rawApp((head, socket) => {
      if (head.startsWith('GET /late')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
        setTimeout(() => socket.write('later'), 10);
        setTimeout(() => socket.write(' body'), 20);
      } else if (head.startsWith('GET /extra')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA');
      } else {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 60000\r\n\r\n${'x'.repeat(60_000)}`);
      }
    });
    const port = await pairFor(app);
    expect((await get(port, '/late')).body).toBe('later body');
    expect((await get(port, '/big')).body).toBe('x'.repeat(60_000));
    expect(app.connections).toBe(1);
    expect((await get(port, '/extra')).body).toBe('ok');
    expect((await get(port, '/late')).body).toBe('later body');
    expect(app.connections).toBe(2);
  });

  it('reads an answer that ends when the app closes, and opens a new connection after it', async () => {
    const app = await rawApp((_head, socket) => {
      socket.write('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ');
      setTimeout(() => socket.end('close'), 20);
    });
    const port = await pairFor(app);
    expect((await get(port, '/a')).body).toBe('until close');
    expect((await get(port, '/b')).body).toBe('until close');
    expect(app.connections).toBe(2);
  });

  it('answers 502 with the reason when the app sends something that is not HTTP, or closes before answering', async () => {
    const app = await rawApp((head, socket) => {
      if (head.startsWith('GET /garbage')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n');
      else socket.destroy();
    });
    const port = await pairFor(app);
    const garbage = await get(port, '/garbage');
    expect(garbage.status).toBe(502);
    expect(garbage.headers['x-mesh-error']).toBe('MESH_ERR_APP_UNAVAILABLE');
    expect(garbage.headers['x-mesh-reason']).toMatch(/malformed: the answer has both Content-Length and Transfer-Encoding/);
    const closed = await get(port, '/close');
    expect(closed.status).toBe(502);
    expect(closed.headers['x-mesh-reason']).toMatch(/the app closed the connection/);
  });

  it('drops an idle connection the app closed, and carries the next request on a new one', async () => {
    const app = await rawApp((_head, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      setTimeout(() => socket.end(), 10);
    });
    const port = await pairFor(app);
    expect((await get(port, '/1')).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await get(port, '/2')).body).toBe('ok');
    expect(app.connections).toBe(2);
  });
});
