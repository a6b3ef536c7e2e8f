// Data plane end to end: app A -> outbound(A) -> mTLS h2 -> inbound(B) -> app B, over real sockets.
import { createHash } from 'node:crypto';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { request, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { TlsMaterial } from '../src/identity/tls-material.js';
import { Cleanup, send, startApp } from './support/mesh.js';
import { peerSessions, startPair } from './support/pair.js';
import { callerAndServer } from './support/pki.js';

const A_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const B_ID = 'spiffe://cluster.local/ns/shop/sa/orders';

let tlsA: TlsMaterial;
let tlsB: TlsMaterial;
const cleanup = new Cleanup();

beforeAll(async () => {
  ({ caller: tlsA, server: tlsB } = await callerAndServer(A_ID, B_ID));
});

afterEach(() => cleanup.run());

async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('routing and identity', () => {
  it('carries a request to app B, which sees the verified caller identity even when the caller forged it', async () => {
    const seen: IncomingMessage[] = [];
    const app = await startApp(cleanup, (req, res) => {
      seen.push(req);
      res.setHeader('x-app', 'orders');
      res.end(`hello from ${req.url}`);
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });

    const byHost = await send(pair.outboundPort, { path: '/hello?x=1', headers: { host: 'orders.shop', 'x-mesh-peer-identity': 'spiffe://cluster.local/ns/shop/sa/admin' } });
    expect(byHost.status).toBe(200);
    expect(byHost.body).toBe('hello from /hello?x=1');
    expect(byHost.headers['x-app']).toBe('orders');
    expect(seen[0]?.headers['x-mesh-peer-identity']).toBe(A_ID);
    expect(seen[0]?.headers.host).toBe('orders.shop');

    const byProxy = await send(pair.outboundPort, { path: 'http://orders.shop.svc.cluster.local:8080/items?q=2', headers: { host: 'ignored.example' } });
    expect(byProxy.status).toBe(200);
    expect(byProxy.body).toBe('hello from /items?q=2');
    expect(seen[1]?.headers.host).toBe('orders.shop.svc.cluster.local:8080');
    expect(seen[1]?.headers['x-mesh-peer-identity']).toBe(A_ID);

    // A bare service name means the caller's own namespace.
    const bare = await send(pair.outboundPort, { path: '/bare', headers: { host: 'orders' } });
    expect(bare.body).toBe('hello from /bare');
  });

  it('strips hop-by-hop headers, including those the Connection header lists', async () => {
    let headers: IncomingMessage['headers'] = {};
    const app = await startApp(cleanup, (req, res) => {
      headers = req.headers;
      res.end('ok');
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const reply = await send(pair.outboundPort, {
      path: '/',
      headers: { host: 'orders.shop', connection: 'keep-alive, x-private', 'x-private': 'secret', 'proxy-connection': 'keep-alive', 'x-kept': 'yes' },
    });
    expect(reply.status).toBe(200);
    expect(headers['x-private']).toBeUndefined();
    expect(headers['proxy-connection']).toBeUndefined();
    expect(headers['x-kept']).toBe('yes');
  });

  it('carries fields named like Object.prototype members (__proto__, constructor, toString), repeated ones too, both ways, and no others', async () => {
    let rawSeen: string[] = [];
    const app = await startApp(cleanup, (req, res) => {
      rawSeen = req.rawHeaders;
      res.writeHead(200, ['constructor', 'y', '__proto__', 'p1', '__proto__', 'p2', 'toString', 't', 'content-length', '2']);
      res.end('ok');
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const socket = connect(pair.outboundPort, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.write('GET /odd HTTP/1.1\r\nHost: orders.shop\r\n__proto__: a\r\n__proto__: b\r\nconstructor: x\r\ntoString: t\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => socket.on('close', resolve));
    const fieldsOf = (raw: string[]): Array<[string, string]> => {
      const out: Array<[string, string]> = [];
      for (let i = 0; i + 1 < raw.length; i += 2) out.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
      return out;
    };
    const sent = fieldsOf(rawSeen).filter(([name]) => !['host', 'traceparent', 'x-mesh-peer-identity', 'connection'].includes(name));
    // A repeated field reaches the app as one comma-joined line, as any repeated field does.
    expect(sent).toEqual(expect.arrayContaining([['__proto__', 'a, b'], ['constructor', 'x'], ['tostring', 't']]));
    expect(sent).toHaveLength(3);
    const [head = '', body] = text.split('\r\n\r\n');
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 200 OK');
    const answered = lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]);
    const odd = answered.filter(([name]) => ['constructor', '__proto__', 'tostring'].includes(name as string));
    expect(odd).toEqual(expect.arrayContaining([['constructor', 'y'], ['__proto__', 'p1, p2'], ['tostring', 't']]));
    expect(odd).toHaveLength(3);
    // Nothing leaked in from a prototype: every field is one the app sent, or framing and ours.
    for (const [name] of answered) expect(['constructor', '__proto__', 'tostring', 'content-length', 'connection', 'date', 'keep-alive', 'traceparent']).toContain(name);
    expect(body).toBe('ok');
  });

  it("passes the app's own 500 through untouched", async () => {
    const app = await startApp(cleanup, (_req, res) => {
      res.statusCode = 500;
      res.end('app broke');
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const reply = await send(pair.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(reply.status).toBe(500);
    expect(reply.body).toBe('app broke');
    expect(reply.headers['x-mesh-error']).toBeUndefined();
  });
});

describe('refusals answer with a status and a reason', () => {
  it('answers 400 for a host that names no service, 503 for unknown services and services without endpoints', async () => {
    const app = await startApp(cleanup, (_req, res) => res.end('never'));
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, extra: { 'empty.shop': [] } });

    const bad = await send(pair.outboundPort, { path: '/', headers: { host: 'a.b.c.d' } });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-mesh-error']).toBe('MESH_ERR_BAD_REQUEST');
    expect(bad.headers['content-type']).toBe('application/json');
    expect(JSON.parse(bad.body)).toEqual({ error: 'MESH_ERR_BAD_REQUEST', reason: bad.headers['x-mesh-reason'] });

    const unknown = await send(pair.outboundPort, { path: '/', headers: { host: 'nope.shop' } });
    expect(unknown.status).toBe(503);
    expect(unknown.headers['x-mesh-error']).toBe('MESH_ERR_NO_ROUTE');
    expect(unknown.headers['x-mesh-reason']).toContain('nope.shop');

    const empty = await send(pair.outboundPort, { path: '/', headers: { host: 'empty.shop' } });
    expect(empty.status).toBe(503);
    expect(empty.headers['x-mesh-error']).toBe('MESH_ERR_NO_ENDPOINTS');
  });

  it('answers 502 MESH_ERR_UPSTREAM_CONNECT when the endpoint port is closed', async () => {
    const app = await startApp(cleanup, (_req, res) => res.end('never'));
    const port = await closedPort();
    const pair = await startPair({
      cleanup,
      clientTls: tlsA,
      serverTls: tlsB,
      appPort: app.port,
      extra: { 'gone.shop': [{ address: `127.0.0.1:${port}`, identity: B_ID, nodeId: 'gone' }] },
    });
    const reply = await send(pair.outboundPort, { path: '/', headers: { host: 'gone.shop' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_UPSTREAM_CONNECT');
    expect(reply.headers['x-mesh-reason']).toContain(`connection refused by 127.0.0.1:${port}`);
  });

  it('answers 502 MESH_ERR_APP_UNAVAILABLE when the app behind the inbound sidecar refuses', async () => {
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: await closedPort() });
    const reply = await send(pair.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_APP_UNAVAILABLE');
    expect(reply.headers['x-mesh-reason']).toMatch(/^inbound\/app: connection refused/);
  });

  it('answers 504 when the app hangs past the timeout, and the app sees its request aborted', async () => {
    let appSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (appSawClose = resolve));
    // The app never answers; its response 'close' without finishing is how Node tells it the caller went away.
    const app = await startApp(cleanup, (_req, res) => {
      res.once('close', () => {
        if (!res.writableFinished) appSawClose();
      });
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, defaultTimeoutMs: 300 });
    const started = Date.now();
    const reply = await send(pair.outboundPort, { path: '/slow', headers: { host: 'orders.shop' } });
    expect(reply.status).toBe(504);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_UPSTREAM_TIMEOUT');
    expect(reply.headers['x-mesh-reason']).toContain('outbound/timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await closed;
  });
});

describe('streaming', () => {
  it('echoes a 50 MB upload back through both sidecars, byte for byte', async () => {
    const app = await startApp(cleanup, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const chunkSize = 64 * 1024;
    const chunks = 800;
    const sent = createHash('sha256');
    let index = 0;
    const upload = new Readable({
      read() {
        if (index === chunks) return void this.push(null);
        const chunk = Buffer.alloc(chunkSize, index % 251);
        chunk.writeUInt32BE(index++, 0);
        sent.update(chunk);
        this.push(chunk);
      },
    });
    const received = createHash('sha256');
    let receivedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: pair.outboundPort, method: 'POST', path: '/echo', headers: { host: 'orders.shop' }, agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.on('data', (chunk: Buffer) => {
          received.update(chunk);
          receivedBytes += chunk.length;
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      upload.pipe(req);
    });
    expect(receivedBytes).toBe(chunkSize * chunks);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  });

  it('streams a 16 MB answer to a GET to a slow reader, byte for byte, with the app held back by backpressure', async () => {
    const chunkSize = 64 * 1024;
    const chunks = 256;
    const sent = createHash('sha256');
    let appPaused = 0;
    const app = await startApp(cleanup, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let index = 0;
      const write = (): void => {
        while (index < chunks) {
          const chunk = Buffer.alloc(chunkSize, index % 251);
          chunk.writeUInt32BE(index++, 0);
          sent.update(chunk);
          if (!res.write(chunk)) {
            appPaused++;
            res.once('drain', write);
            return;
          }
        }
        res.end();
      };
      write();
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const received = createHash('sha256');
    let receivedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: pair.outboundPort, path: '/download', headers: { host: 'orders.shop' }, agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        // A reader slower than the app: every hop has to hold the app back instead of buffering 16 MB.
        res.on('data', (chunk: Buffer) => {
          received.update(chunk);
          receivedBytes += chunk.length;
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(receivedBytes).toBe(chunkSize * chunks);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    expect(appPaused).toBeGreaterThan(0);
  });

  it('stops the app answering a GET when the caller goes away mid-answer', async () => {
    let appSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (appSawClose = resolve));
    const app = await startApp(cleanup, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part\n');
      // Never ends on its own: only the caller going away should stop it.
      res.once('close', () => {
        if (!res.writableFinished) appSawClose();
      });
    });
    // A route timeout far beyond the test's: only the caller's close may stop the app here.
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, defaultTimeoutMs: 120_000 });
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: pair.outboundPort, path: '/forever', headers: { host: 'orders.shop' }, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
      req.end();
    });
    await closed;
  });

  it('carries a WebSocket through both sidecars as an extended CONNECT stream', async () => {
    const app = await startApp(cleanup, (_req, res) => res.end('not a websocket'));
    const wss = new WebSocketServer({ server: app.server });
    const upgrades: IncomingMessage[] = [];
    wss.on('connection', (socket, req) => {
      upgrades.push(req);
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    cleanup.add(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });

    const client = new WebSocket(`ws://127.0.0.1:${pair.outboundPort}/chat`, { headers: { host: 'orders.shop' } });
    cleanup.add(() => client.terminate());
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const echoes: string[] = [];
    const twoEchoes = new Promise<void>((resolve) => {
      client.on('message', (data: Buffer) => {
        echoes.push(data.toString('utf8'));
        if (echoes.length === 2) resolve();
      });
    });
    client.send('hello');
    client.send(Buffer.from('binary bytes'));
    await twoEchoes;
    expect(echoes).toEqual(['hello', 'binary bytes']);
    expect(upgrades[0]?.url).toBe('/chat');
    expect(upgrades[0]?.headers['x-mesh-peer-identity']).toBe(A_ID);
    // Upgrades ride HTTP/2 (extended CONNECT), which tsmesh/1 does not carry.
    expect(peerSessions(pair.inboundLogs).map((record) => record.fields?.['transport'])).toEqual(['h2']);

    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    client.close(1000, 'done');
    expect(await closed).toBe(1000);
  });

  it('passes the app refusing a WebSocket upgrade back as an ordinary answer: its status, fields and body, with our one connection field', async () => {
    const app = await startApp(cleanup, (_req, res) => res.end('not a websocket'));
    app.server.on('upgrade', (_req, socket: Socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\nx-why: token\r\n\r\nno way');
    });
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(pair.outboundPort, '127.0.0.1', () => {
        socket.write('GET /chat HTTP/1.1\r\nhost: orders.shop\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.once('error', reject);
      cleanup.add(() => void socket.destroy());
    });
    const [head, body] = raw.split('\r\n\r\n');
    const lines = head!.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 403 Forbidden');
    const names = lines.slice(1).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
    // One connection field, ours: the body ends with the connection.
    expect(names.filter((n) => n === 'connection')).toEqual(['connection']);
    expect(lines).toContain('connection: close');
    expect(lines).toContain('x-why: token');
    expect(body).toBe('no way');
  });
});
