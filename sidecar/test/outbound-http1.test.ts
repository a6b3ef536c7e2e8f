// The outbound listener's own HTTP/1.1 framing, byte for byte over a raw socket: pipelining, chunked uploads, Expect, HTTP/1.0, refusals.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startApp } from './support/mesh.js';
import { shopPair } from './support/shop-pair.js';

const { cleanup, start } = shopPair();

interface Conversation {
  socket: Socket;
  text: () => string;
  closed: Promise<void>;
  // Resolves once the bytes received so far contain `needle`.
  until: (needle: string) => Promise<string>;
}

function talk(port: number): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const waiters: { needle: string; done: (text: string) => void }[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      received += text;
      for (const w of waiters.splice(0)) {
        if (received.includes(w.needle)) w.done(received);
        else waiters.push(w);
      }
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    cleanup.add(() => void socket.destroy());
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        text: () => received,
        closed,
        until: (needle) => new Promise((done) => (received.includes(needle) ? done(received) : waiters.push({ needle, done }))),
      }),
    );
  });
}

async function pairWithApp(headTimeoutMs?: number): Promise<{ port: number; calls: string[] }> {
  const calls: string[] = [];
  const app = await startApp(cleanup, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1');
      calls.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/stream') {
        // No length: the answer reaches the caller chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 20);
        return;
      }
      res.setHeader('content-length', Buffer.byteLength(`${req.method} ${req.url} ${body}`));
      res.end(req.method === 'HEAD' ? undefined : `${req.method} ${req.url} ${body}`);
    });
  });
  const pair = await start(app.port, headTimeoutMs === undefined ? {} : { headTimeoutMs });
  return { port: pair.outboundPort, calls };
}

describe('outbound HTTP/1.1 framing', () => {
  it('answers pipelined requests in order on one connection, and closes after Connection: close', async () => {
    const { port } = await pairWithApp();
    const c = await talk(port);
    c.socket.write('GET /1 HTTP/1.1\r\nHost: orders.shop\r\n\r\nGET /2 HTTP/1.1\r\nHost: orders.shop\r\n\r\nGET /3 HTTP/1.1\r\nHost: orders.shop\r\nConnection: close\r\n\r\n');
    await c.closed;
    const bodies = [...c.text().matchAll(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n(GET \/\d )/g)].map((m) => m[1]);
    expect(bodies).toEqual(['GET /1 ', 'GET /2 ', 'GET /3 ']);
    expect(c.text()).toMatch(/connection: close\r\n/);
  });

  it('decodes a chunked upload (extensions, trailers, bytes split anywhere) into the body the app gets', async () => {
    const { port, calls } = await pairWithApp();
    const c = await talk(port);
    const wire = 'POST /up HTTP/1.1\r\nHost: orders.shop\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-sum: 1\r\n\r\n';
    for (let i = 0; i < wire.length; i += 7) {
      c.socket.write(wire.slice(i, i + 7));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await c.until('POST /up hello world')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(calls).toEqual(['POST /up hello world']);
  });

  it('answers 100 Continue before the app sends the body it held back', async () => {
    const { port } = await pairWithApp();
    const c = await talk(port);
    c.socket.write('PUT /x HTTP/1.1\r\nHost: orders.shop\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    expect(await c.until('\r\n\r\n')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write('data');
    expect(await c.until('PUT /x data')).toMatch(/HTTP\/1\.1 200 OK/);
  });

  it('passes on an answer without a length chunked to HTTP/1.1 and close-delimited to HTTP/1.0', async () => {
    const { port } = await pairWithApp();
    const c11 = await talk(port);
    c11.socket.write('GET /stream HTTP/1.1\r\nHost: orders.shop\r\n\r\n');
    const text = await c11.until('0\r\n\r\n');
    expect(text).toMatch(/transfer-encoding: chunked\r\n/);
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe('a\r\npart one, \r\n8\r\npart two\r\n0\r\n\r\n');
    const c10 = await talk(port);
    c10.socket.write('GET /stream HTTP/1.0\r\nHost: orders.shop\r\n\r\n');
    await c10.closed;
    expect(c10.text()).toMatch(/connection: close\r\n/);
    expect(c10.text().endsWith('\r\n\r\npart one, part two')).toBe(true);
  });

  it('keeps an HTTP/1.0 connection open only when it asks for keep-alive, and sends HEAD answers without a body', async () => {
    const { port } = await pairWithApp();
    const c = await talk(port);
    c.socket.write('HEAD /h HTTP/1.0\r\nHost: orders.shop\r\nConnection: keep-alive\r\n\r\n');
    const head = await c.until('\r\n\r\n');
    expect(head).toMatch(/connection: keep-alive\r\n/);
    expect(head).toMatch(/content-length: 8\r\n/);
    c.socket.write('GET /g HTTP/1.0\r\nHost: orders.shop\r\n\r\n');
    await c.closed;
    // The HEAD answer had no body: the next bytes are the GET's status line.
    expect(c.text().slice(head.length)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nGET \/g $/);
  });

  it('answers at once, and never completes the request to the app, when the app half-closes inside its body', async () => {
    const { port, calls } = await pairWithApp();
    for (const framing of ['Content-Length: 100', 'Transfer-Encoding: chunked']) {
      const c = await talk(port);
      const started = Date.now();
      c.socket.write(`POST /cut HTTP/1.1\r\nHost: orders.shop\r\n${framing}\r\n\r\n${framing.startsWith('Content') ? 'x'.repeat(10) : '5\r\nhello\r\n'}`);
      c.socket.end();
      await c.closed;
      expect(c.text()).toMatch(/^HTTP\/1\.1 5\d\d /);
      expect(c.text()).toMatch(/x-mesh-reason: /);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    expect(calls).toEqual([]);
  });

  it('answers 408 and closes when a request head does not arrive in time, and leaves idle connections alone', async () => {
    const { port, calls } = await pairWithApp(300);
    const idle = await talk(port);
    const slow = await talk(port);
    slow.socket.write('GET /slow HTTP/1.1\r\nHost: orders');
    await slow.closed;
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.text()).toMatch(/did not arrive within 300 ms/);
    // A connection with no request started is idle, not slow: it is still open and still serves.
    expect(idle.socket.destroyed).toBe(false);
    idle.socket.write('GET /late HTTP/1.1\r\nHost: orders.shop\r\n\r\n');
    expect(await idle.until('GET /late ')).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(calls).toEqual(['GET /late ']);
  });

  it('refuses a malformed request with a status, a code and a reason, never calls the app, and closes', async () => {
    const { port, calls } = await pairWithApp();
    const cases: [string, number, RegExp][] = [
      ['POST / HTTP/1.1\r\nHost: orders.shop\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /both Content-Length and Transfer-Encoding/],
      [`GET / HTTP/1.1\r\nHost: orders.shop\r\nx-big: ${'b'.repeat(17_000)}\r\n\r\n`, 431, /larger than 16384 bytes/],
      ['GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n', 400, /must have a Host header/],
      ['GET / HTTP/3.0\r\nHost: orders.shop\r\n\r\n', 505, /HTTP\/3\.0 is not supported/],
      ['CONNECT orders.shop:443 HTTP/1.1\r\nHost: orders.shop\r\n\r\n', 400, /CONNECT tunnels are not carried/],
    ];
    for (const [wire, status, reason] of cases) {
      const c = await talk(port);
      c.socket.write(wire);
      await c.closed;
      expect(c.text()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(c.text()).toMatch(status === 400 && wire.startsWith('CONNECT') ? /x-mesh-error: MESH_ERR_BAD_REQUEST/ : /x-mesh-error: MESH_ERR_MALFORMED_REQUEST/);
      expect(c.text()).toMatch(reason);
    }
    expect(calls).toEqual([]);
  });
});
