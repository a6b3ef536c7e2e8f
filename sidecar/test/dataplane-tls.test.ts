// Data plane security and connection handling: mTLS refusals, identity checks, rotation under traffic, session reuse.
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { API_VERSION, certificateInfo, type InboundPolicy } from '@tsmesh/proto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsMaterial } from '../src/identity/tls-material.js';
import { Cleanup, send, startApp } from './support/mesh.js';
import { openPolicy, peerSessions, startPair } from './support/pair.js';
import { createTestCa, issueWorkload, keyPairs, type TestCa } from './support/pki.js';

const A_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const B_ID = 'spiffe://cluster.local/ns/shop/sa/orders';
const C_ID = 'spiffe://cluster.local/ns/shop/sa/payments';

let ca: TestCa;
let otherCa: TestCa;
let keys: Awaited<ReturnType<typeof keyPairs>>;
let tlsA: TlsMaterial;
let tlsB: TlsMaterial;
const cleanup = new Cleanup();

beforeAll(async () => {
  keys = await keyPairs(5);
  ca = createTestCa(keys[0]!, 'mesh root');
  otherCa = createTestCa(keys[1]!, 'someone else');
  tlsA = issueWorkload(ca, keys[2]!, A_ID);
  tlsB = issueWorkload(ca, keys[3]!, B_ID);
});

afterEach(() => cleanup.run());

async function countingApp(): Promise<{ port: number; hits: () => number; lastPeerHeader: () => string | undefined }> {
  let hits = 0;
  let peer: string | undefined;
  const app = await startApp(cleanup, (req, res) => {
    hits++;
    peer = req.headers['x-mesh-peer-identity'] as string | undefined;
    res.end('ok');
  });
  return { port: app.port, hits: () => hits, lastPeerHeader: () => peer };
}

// A plaintext HTTP/1.1 request straight to the inbound port; resolves with the raw response.
function plaintextGet(port: number, extraHeaders = ''): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(`GET / HTTP/1.1\r\nHost: orders.shop\r\n${extraHeaders}Connection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(data));
  });
}

// Resolves with the response status, or 'refused' when the connection fails before any response.
function tryH2(port: number, tls: ConnectionOptions): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const session = h2connect(`https://127.0.0.1:${port}`, {
      createConnection: () => tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined, ...tls }),
    });
    let settled = false;
    const done = (outcome: number | 'refused'): void => {
      if (settled) return;
      settled = true;
      session.destroy();
      resolve(outcome);
    };
    session.on('error', () => done('refused'));
    session.on('close', () => done('refused'));
    const stream = session.request({ ':path': '/', ':authority': 'orders.shop' });
    stream.on('error', () => done('refused'));
    stream.on('close', () => done('refused'));
    stream.on('response', (headers) => done(Number(headers[':status'])));
    stream.end();
  });
}

async function runLoad(outboundPort: number, total: number, concurrency: number, onProgress?: (done: number) => void): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const reply = await send(outboundPort, { path: '/', headers: { host: 'orders.shop' } }).catch(() => ({ status: -1 }));
      statuses.push(reply.status);
      onProgress?.(statuses.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

describe('only mesh mTLS gets through the inbound listener', () => {
  it('gives a plaintext client nothing but a closed connection, and never reaches the app (STRICT)', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const received = await plaintextGet(pair.inboundPort);
    expect(received).not.toContain('HTTP/');
    expect(app.hits()).toBe(0);
    const garbage = await new Promise<string>((resolve) => {
      const socket = netConnect(pair.inboundPort, '127.0.0.1', () => socket.write(Buffer.alloc(16, 0x01)));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(data));
    });
    expect(garbage).toBe('');
    expect(app.hits()).toBe(0);
  });

  it('serves plaintext as unauthenticated under PERMISSIVE, without a peer identity, and policy can refuse it', async () => {
    const app = await countingApp();
    const permissive = { ...openPolicy(), meshConfig: { apiVersion: API_VERSION, kind: 'MeshConfig', metadata: { name: 'default', namespace: '' }, spec: { mtls: { mode: 'PERMISSIVE' } } } } as InboundPolicy;
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, policy: permissive });
    const ok = await plaintextGet(pair.inboundPort, 'x-mesh-peer-identity: spiffe://cluster.local/ns/shop/sa/forged\r\n');
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(app.hits()).toBe(1);
    expect(app.lastPeerHeader()).toBeUndefined();
    // mTLS from a sidecar still works on the same port (through the JavaScript TLS path).
    const viaMesh = await send(pair.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(viaMesh.status).toBe(200);
    expect(app.lastPeerHeader()).toBe(tlsA.spiffeId);
    pair.setPolicy({ ...permissive, authorizationPolicies: [{ apiVersion: API_VERSION, kind: 'AuthorizationPolicy', metadata: { name: 'mesh-only', namespace: 'shop' }, spec: { action: 'ALLOW', rules: [{ from: [{ namespaces: ['*'] }] }] } }] });
    const refused = await plaintextGet(pair.inboundPort);
    expect(refused).toMatch(/^HTTP\/1\.1 403 /);
    expect(refused).toContain('x-mesh-error: MESH_ERR_FORBIDDEN');
    expect(app.hits()).toBe(2);
  });

  it('refuses a TLS client without a certificate, and one whose certificate another CA signed', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const noCert = await tryH2(pair.inboundPort, { ca: [ca.certPem] });
    expect(noCert).toBe('refused');
    const foreign = issueWorkload(otherCa, keys[4]!, A_ID);
    const foreignCert = await tryH2(pair.inboundPort, { ca: [ca.certPem], key: foreign.keyPem, cert: foreign.certChainPem });
    expect(foreignCert).toBe('refused');
    // The same client with a mesh certificate does get through: the refusals above are about the certificate.
    expect(await tryH2(pair.inboundPort, { ca: [ca.certPem], key: tlsA.keyPem, cert: tlsA.certChainPem })).toBe(200);
    expect(app.hits()).toBe(1);
  });

  it('answers 403 MESH_ERR_UNAUTHENTICATED to a mesh-signed peer outside the trust domain', async () => {
    const app = await countingApp();
    const outsider = issueWorkload(ca, keys[4]!, 'spiffe://elsewhere.org/ns/shop/sa/frontend');
    const pair = await startPair({ cleanup, clientTls: outsider, serverTls: tlsB, appPort: app.port });
    const reply = await send(pair.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(reply.status).toBe(403);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_UNAUTHENTICATED');
    expect(reply.headers['x-mesh-reason']).toContain('outside trust domain cluster.local');
    expect(app.hits()).toBe(0);
  });
});

describe('the caller checks the peer identity', () => {
  it('answers 502 MESH_ERR_TLS_IDENTITY when the endpoint presents a valid mesh cert of the wrong identity', async () => {
    const app = await countingApp();
    const tlsC = issueWorkload(ca, keys[4]!, C_ID);
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsC, appPort: app.port, expectedIdentity: B_ID });
    const reply = await send(pair.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_TLS_IDENTITY');
    expect(reply.headers['x-mesh-reason']).toContain(B_ID);
    expect(reply.headers['x-mesh-reason']).toContain(C_ID);
    expect(app.hits()).toBe(0);
  });
  it('answers 502 MESH_ERR_TLS_HANDSHAKE when either side does not trust the other', async () => {
    const app = await countingApp();
    // The server refuses our certificate (another CA signed it).
    const foreign = issueWorkload(otherCa, keys[4]!, A_ID, [ca.certPem]);
    const refusedByServer = await startPair({ cleanup, clientTls: foreign, serverTls: tlsB, appPort: app.port });
    const first = await send(refusedByServer.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(first.status).toBe(502);
    expect(first.headers['x-mesh-error']).toBe('MESH_ERR_TLS_HANDSHAKE');
    // We refuse the server's chain (our trust bundle lacks its root).
    const distrusting = { ...tlsA, trustBundlePem: [otherCa.certPem] };
    const refusedByClient = await startPair({ cleanup, clientTls: distrusting, serverTls: tlsB, appPort: app.port });
    const second = await send(refusedByClient.outboundPort, { path: '/', headers: { host: 'orders.shop' } });
    expect(second.status).toBe(502);
    expect(second.headers['x-mesh-error']).toBe('MESH_ERR_TLS_HANDSHAKE');
    expect(second.headers['x-mesh-reason']).toContain('outbound/tls: handshake with');
    expect(app.hits()).toBe(0);
  });
});

describe('connections', () => {
  it('multiplexes 200 requests over one tsmesh/1 connection', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const statuses = await runLoad(pair.outboundPort, 200, 10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(app.hits()).toBe(200);
    expect(peerSessions(pair.inboundLogs).map((record) => record.fields?.['transport'])).toEqual(['tsmesh/1']);
  });

  it('serves a caller of an older version, which offers only HTTP/2, over HTTP/2', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, clientPeerProtocols: ['h2'] });
    const statuses = await runLoad(pair.outboundPort, 50, 5);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(app.hits()).toBe(50);
    expect(peerSessions(pair.inboundLogs).map((record) => record.fields?.['transport'])).toEqual(['h2']);
  });

  it('reaches a peer of an older version, which speaks only HTTP/2, over HTTP/2', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, serverPeerProtocols: ['h2'] });
    const statuses = await runLoad(pair.outboundPort, 50, 5);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(app.hits()).toBe(50);
    expect(app.lastPeerHeader()).toBe(A_ID);
    expect(peerSessions(pair.inboundLogs).map((record) => record.fields?.['transport'])).toEqual(['h2']);
  });

  it('rotates certificates on both sidecars under traffic without failing a request', async () => {
    const app = await countingApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const rotatedA = issueWorkload(ca, keys[2]!, A_ID);
    const rotatedB = issueWorkload(ca, keys[3]!, B_ID);
    const statuses = await runLoad(pair.outboundPort, 300, 8, (done) => {
      if (done !== 100) return;
      pair.serverSource.update(rotatedB);
      pair.clientSource.update(rotatedA);
    });
    expect(statuses).toHaveLength(300);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    // The session opened after the rotation presented the new client certificate...
    const sessions = peerSessions(pair.inboundLogs);
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    expect(sessions[0]?.fields?.['serial']).toBe(certificateInfo(tlsA.certChainPem).serialNumber);
    expect(sessions.at(-1)?.fields?.['serial']).toBe(certificateInfo(rotatedA.certChainPem).serialNumber);
    // ...and a new handshake with the inbound side sees its new server certificate.
    const serverSerial = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: pair.inboundPort, ca: [ca.certPem], key: rotatedA.keyPem, cert: rotatedA.certChainPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(serverSerial).toBe(certificateInfo(rotatedB.certChainPem).serialNumber);
  });
});
