// Graceful shutdown: the inbound side stops accepting, finishes what is in flight, then closes.
import { connect as netConnect } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPair } from '@tsmesh/proto';
import { Cleanup, send } from './support/mesh.js';
import { createTestCa, keyPairs, type TestCa } from './support/pki.js';
import { MutableTlsMaterialSource } from '../src/identity/tls-material.js';
import { startInboundListener } from '../src/inbound/listener.js';
import { startCaller, openInboundPolicy } from './support/traffic.js';
import { startApp, captureLogger } from './support/mesh.js';
import { issueWorkload } from './support/pki.js';

let ca: TestCa;
let keys: KeyPair[];
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(async () => {
  keys = await keyPairs(2);
  ca = createTestCa(keys[0]!, 'drain test CA');
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('inbound drain', () => {
  it('lets an in-flight request finish with 200, refuses new connections, and closes well within the grace', async () => {
    const app = await startApp(cleanup, (_req, res) => setTimeout(() => res.end('slow but fine'), 400));
    const inbound = await startInboundListener({
      host: '127.0.0.1',
      port: 0,
      appHost: '127.0.0.1',
      appPort: app.port,
      tls: new MutableTlsMaterialSource(issueWorkload(ca, keys[1]!, 'spiffe://cluster.local/ns/shop/sa/orders')),
      trustDomain: 'cluster.local',
      policies: { current: () => openInboundPolicy('orders') },
      logger: captureLogger(),
    });
    cleanup.add(() => inbound.close());
    const caller = await startCaller(cleanup, ca, keys[1]!, { 'orders.shop': [{ address: `127.0.0.1:${inbound.address.port}`, identity: 'spiffe://cluster.local/ns/shop/sa/orders', nodeId: 'orders-1' }] });
    const inFlight = send(caller.port, { path: '/', headers: { host: 'orders.shop' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const drained = inbound.drain!(5_000);
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('slow but fine');
    expect(await refused(inbound.address.port)).toBe(true);
    await drained;
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
