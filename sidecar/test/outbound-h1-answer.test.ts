// The outbound listener's HTTP/1.1 side on its own, over real sockets: whole answers in one write, and the idle timer.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveHttp1, type H1Exchange } from '../src/outbound/h1-connection.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

// An outbound-style listener whose "pipeline" is the test's own function.
async function listener(request: (exchange: H1Exchange) => void, idleTimeoutMs = 60_000): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    serveHttp1(socket, { request, upgrade: (_head, s) => s.destroy(), refuse: (s) => s.destroy(), idleTimeoutMs, headTimeoutMs: 5_000 });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

interface Client {
  socket: Socket;
  received: () => string;
  until: (needle: string) => Promise<string>;
  closed: Promise<number>;
}

function client(port: number): Client {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.setEncoding('latin1');
  let received = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (text: string) => {
    received += text;
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  const until = (needle: string): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => (received.includes(needle) ? resolve(received) : void waiters.push(check));
      check();
    });
  return { socket, received: () => received, until, closed };
}

describe('H1Answer.writeWhole', () => {
  it('writes the head with the length the peer did not give, no chunked framing, and keeps the connection', async () => {
    const port = await listener((exchange) => exchange.answer.writeWhole(200, { ':status': '200', 'x-app': 'yes' }, () => false, Buffer.from('hello')));
    const c = client(port);
    c.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await c.until('hello');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nx-app: yes\r\n/);
    expect(text).toMatch(/\r\ncontent-length: 5\r\n/);
    expect(text).not.toMatch(/transfer-encoding/);
    expect(text.endsWith('\r\n\r\nhello')).toBe(true);
    c.socket.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until('hello' + 'HTTP/1.1 200 OK');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(c.received().split('HTTP/1.1 200 OK')).toHaveLength(3);
    expect(c.received().endsWith('\r\n\r\nhello')).toBe(true);
  });

  it('sends a HEAD answer without its body, and a body that contradicts its declared length as it came', async () => {
    const port = await listener((exchange) => {
      const headers = exchange.head.target === '/head' ? { 'content-length': '1234' } : { 'content-length': '3' };
      exchange.answer.writeWhole(200, headers, () => false, Buffer.from(exchange.head.target === '/head' ? '' : 'abcdef'));
    });
    const head = client(port);
    head.socket.write('HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await head.until('\r\n\r\n');
    expect(text).toMatch(/\r\ncontent-length: 1234\r\n/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(head.received().endsWith('\r\n\r\n')).toBe(true);
    const odd = client(port);
    odd.socket.write('GET /odd HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await odd.until('abcdef')).endsWith('\r\n\r\nabcdef')).toBe(true);
  });

  it('answers HTTP/1.0 without keep-alive with its length and closes', async () => {
    const port = await listener((exchange) => exchange.answer.writeWhole(200, {}, () => false, Buffer.from('old')));
    const c = client(port);
    c.socket.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    await c.closed;
    expect(c.received()).toMatch(/\r\ncontent-length: 3\r\nconnection: close\r\n\r\nold$/);
  });
});

describe('the idle timer of an app connection', () => {
  it('does not close a connection whose request waits longer than the idle time, and closes it once idle', async () => {
    const port = await listener((exchange) => {
      setTimeout(() => exchange.answer.writeWhole(200, {}, () => false, Buffer.from('late')), 250);
    }, 100);
    const c = client(port);
    c.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until('late');
    const answeredAt = Date.now();
    const closedAt = await c.closed;
    // Idle from the answer on: closed about one idle time later, not before.
    expect(closedAt - answeredAt).toBeGreaterThanOrEqual(60);
    expect(c.received().endsWith('\r\n\r\nlate')).toBe(true);
  });
});
