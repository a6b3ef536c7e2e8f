// HTTP/1.1 between the apps and their sidecars: request bodies (backpressure, an app that answers before reading, a caller that leaves) and keep-alive.
import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { send, startApp } from './support/mesh.js';
import { shopPair } from './support/shop-pair.js';

const { cleanup, start } = shopPair();

const CHUNK = 64 * 1024;

function chunkOf(index: number): Buffer {
  const chunk = Buffer.alloc(CHUNK, index % 251);
  chunk.writeUInt32BE(index, 0);
  return chunk;
}

interface Answer {
  status: number;
  body: string;
  // How often the uploader's write() said to wait for 'drain'.
  uploaderHeldBack: number;
}

// POSTs `chunks` chunks to orders.shop through the client sidecar, writing as fast as backpressure allows.
function upload(port: number, chunks: number, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let uploaderHeldBack = 0;
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { host: 'orders.shop', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, uploaderHeldBack }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let index = 0;
    const write = (): void => {
      while (index < chunks) {
        if (!req.write(chunkOf(index++))) {
          uploaderHeldBack++;
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe('uploads', () => {
  it('carries small bodies of a declared length whole, with that length, and chunked ones too', async () => {
    const seen: { length: string | undefined; chunked: boolean; body: string }[] = [];
    const app = await startApp(cleanup, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (text: string) => (body += text));
      req.on('end', () => {
        seen.push({ length: req.headers['content-length'], chunked: req.headers['transfer-encoding'] === 'chunked', body });
        res.end(`got ${body.length}`);
      });
    });
    const pair = await start(app.port);
    const text = 'order line\n'.repeat(3_000);
    const declared = await send(pair.outboundPort, { method: 'PUT', path: '/orders/1', headers: { host: 'orders.shop', 'content-length': String(text.length) }, body: text });
    expect(declared).toMatchObject({ status: 200, body: `got ${text.length}` });
    const chunked = await upload(pair.outboundPort, 1);
    expect(chunked).toMatchObject({ status: 200, body: `got ${CHUNK}` });
    expect(seen[0]).toEqual({ length: String(text.length), chunked: false, body: text });
    expect(seen[1]?.chunked).toBe(true);
  });

  it('never starts the request to the app when a caller stops in the middle of a small declared body', async () => {
    let appCalls = 0;
    const app = await startApp(cleanup, (_req, res) => {
      appCalls++;
      res.end('ok');
    });
    const pair = await start(app.port);
    const req = request({ host: '127.0.0.1', port: pair.outboundPort, method: 'POST', path: '/orders', headers: { host: 'orders.shop', 'content-length': '32768' }, agent: false });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(1024, 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    req.destroy();
    const next = await send(pair.outboundPort, { method: 'POST', path: '/orders', headers: { host: 'orders.shop', 'content-length': '2' }, body: 'ok' });
    expect(next.status).toBe(200);
    expect(appCalls).toBe(1);
  });

  it('holds the uploader back while the app reads slowly, and the app gets every byte in order', async () => {
    const chunks = 256;
    const app = await startApp(cleanup, (req, res) => {
      const digest = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        digest.update(chunk);
        bytes += chunk.length;
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.on('end', () => res.end(`${bytes} ${digest.digest('hex')}`));
    });
    const pair = await start(app.port);
    const expected = createHash('sha256');
    for (let i = 0; i < chunks; i++) expected.update(chunkOf(i));

    const answer = await upload(pair.outboundPort, chunks);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(`${chunks * CHUNK} ${expected.digest('hex')}`);
    // 16 MB cannot all sit in the hops' buffers: the slow app must have held the uploader back.
    expect(answer.uploaderHeldBack).toBeGreaterThan(0);
  });

  it("passes on the app's answer when it refuses a large upload before reading it", async () => {
    const app = await startApp(cleanup, (_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too large for orders\n');
    });
    const pair = await start(app.port);
    // Twice: the first refusal must leave the sidecars able to carry the next request.
    for (let round = 0; round < 2; round++) {
      const answer = await upload(pair.outboundPort, 128, { 'content-length': String(128 * CHUNK) }).catch((error: NodeJS.ErrnoException) => error);
      // The caller may still be writing when the answer ends the exchange: a reset is fair, a wrong answer is not.
      if (answer instanceof Error) expect(answer.code).toMatch(/ECONNRESET|EPIPE/);
      else {
        expect(answer.status).toBe(413);
        expect(answer.body).toBe('too large for orders\n');
      }
    }
    const after = await upload(pair.outboundPort, 0);
    expect(after.status).toBe(413);
  });

  it('aborts the upload to the app when the caller goes away in the middle of it, and carries the next one', async () => {
    let appSaw!: (how: string) => void;
    const sawEnd = new Promise<string>((resolve) => (appSaw = resolve));
    let appBytes = 0;
    const app = await startApp(cleanup, (req: IncomingMessage, res) => {
      req.on('error', () => undefined);
      req.on('data', (chunk: Buffer) => (appBytes += chunk.length));
      req.on('end', () => {
        appSaw('end');
        res.end('ok');
      });
      req.on('close', () => {
        if (!req.complete) appSaw('aborted');
      });
    });
    const pair = await start(app.port);
    const req = request({ host: '127.0.0.1', port: pair.outboundPort, method: 'POST', path: '/upload', headers: { host: 'orders.shop', 'content-length': String(64 * CHUNK) }, agent: false });
    req.on('error', () => undefined);
    req.write(chunkOf(0));
    await expect.poll(() => appBytes, { timeout: 5_000 }).toBeGreaterThan(0);
    req.destroy();
    expect(await sawEnd).toBe('aborted');
    // The sidecars carry on: the next upload goes through whole.
    const next = await upload(pair.outboundPort, 2);
    expect(next.status).toBe(200);
  });
});

// One GET on an open socket; resolves with the raw answer once its body ("ok") has arrived.
function getOn(socket: Socket): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let answer = '';
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('latin1');
      if (answer.endsWith('\r\n\r\nok')) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(answer);
      }
    };
    const onClose = (): void => reject(new Error(`the sidecar closed the connection; got: ${JSON.stringify(answer)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write('GET /orders HTTP/1.1\r\nHost: orders.shop\r\n\r\n');
  });
}

describe('keep-alive', () => {
  it("keeps an idle keep-alive connection from the app open past Node's 5 s default", async () => {
    const app = await startApp(cleanup, (_req, res) => res.end('ok'));
    const pair = await start(app.port);
    const socket = connect({ host: '127.0.0.1', port: pair.outboundPort });
    cleanup.add(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve) => socket.once('connect', resolve));

    const first = await getOn(socket);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first).not.toMatch(/\r\nconnection: close\r\n/i);
    // Idle longer than Node 20's default keepAliveTimeout (5 s, plus the 1 s Node adds): a pool such as Go's would reuse it now.
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    expect(socket.destroyed).toBe(false);
    expect(await getOn(socket)).toMatch(/^HTTP\/1\.1 200 /);
  });
});
