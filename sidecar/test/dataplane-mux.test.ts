// The inbound listener as a tsmesh/1 peer sees it: what it refuses, and how, over real mTLS.
import type { IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsMaterial } from '../src/identity/tls-material.js';
import { MuxConnection } from '../src/transport/mux/connection.js';
import { ALPN_MUX, Code, Frame, FrameReader, textFrame } from '../src/transport/mux/frames.js';
import { Cleanup, startApp } from './support/mesh.js';
import { startPair } from './support/pair.js';
import { createTestCa, issueWorkload, keyPairs, type TestCa } from './support/pki.js';

const A_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const B_ID = 'spiffe://cluster.local/ns/shop/sa/orders';

let ca: TestCa;
let tlsA: TlsMaterial;
let tlsB: TlsMaterial;
const cleanup = new Cleanup();

beforeAll(async () => {
  const keys = await keyPairs(3);
  ca = createTestCa(keys[0]!, 'mesh root');
  tlsA = issueWorkload(ca, keys[1]!, A_ID);
  tlsB = issueWorkload(ca, keys[2]!, B_ID);
});

afterEach(() => cleanup.run());

async function inboundPort(): Promise<number> {
  const app = await startApp(cleanup, (_req, res) => res.end('ok'));
  const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
  return pair.inboundPort;
}

function dial(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: [ca.certPem], key: tlsA.keyPem, cert: tlsA.certChainPem, ALPNProtocols: [ALPN_MUX], checkServerIdentity: () => undefined }, () => resolve(socket));
    socket.once('error', reject);
    cleanup.add(() => void socket.destroy());
  });
}

function answer(connection: MuxConnection, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = connection.request(headers, true);
    let body = '';
    stream.once('response', (received: IncomingHttpHeaders) => {
      stream.duplex().on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      stream.duplex().once('end', () => resolve({ headers: received, body }));
    });
    stream.once('close', () => {
      if (!stream.duplex().readableEnded) reject(new Error(`reset ${stream.rstCode}: ${stream.resetReason}`));
    });
  });
}

describe('tsmesh/1 at the inbound listener', () => {
  it('negotiates tsmesh/1 and answers a plain request with the peer identity checked', async () => {
    const connection = new MuxConnection(await dial(await inboundPort()), 'client');
    const reply = await answer(connection, { ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': 'orders.shop' });
    expect(reply.headers[':status']).toBe('200');
    expect(reply.body).toBe('ok');
    expect(connection.greeted).toBe(true);
  });

  it('refuses a CONNECT, which only HTTP/2 carries, with 400 and the reason', async () => {
    const connection = new MuxConnection(await dial(await inboundPort()), 'client');
    const reply = await answer(connection, { ':method': 'CONNECT', ':authority': '10.0.0.1:5432' });
    expect(reply.headers[':status']).toBe('400');
    expect(reply.headers['x-mesh-reason']).toContain('CONNECT is carried over HTTP/2 only');
  });

  it('ends the connection with a PROTOCOL drain and the reason when a header block is malformed', async () => {
    const socket = await dial(await inboundPort());
    const frames: Array<{ type: number; payload: Buffer }> = [];
    const reader = new FrameReader({ frame: (type, _flags, _id, payload) => frames.push({ type, payload: Buffer.from(payload) }), malformed: () => undefined });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // A CR inside a value: what a request-smuggling attempt would need.
    socket.write(textFrame(Frame.headers, 1, 1, [], ':method:GET\n:path:/\nx-evil:a\rb\n'));
    await closed;
    const drain = frames.find((frame) => frame.type === Frame.drain);
    expect(drain?.payload.readUInt32BE(4)).toBe(Code.protocol);
    expect(drain?.payload.toString('utf8', 8)).toContain('malformed header line');
    expect(frames[0]?.type).toBe(Frame.hello);
  });
});
