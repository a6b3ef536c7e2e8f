// The discovery stream end to end: the real control plane's server against the sidecar's real client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { meshProtos, TYPE_URLS, type DiscoveryResponse__Output, type Node } from '@tsmesh/proto';
import { AdminClient } from '@tsmesh/control-plane';
import type { DiscoveryClient } from '../../sidecar/src/discovery/client.js';
import type { TlsMaterial } from '../../sidecar/src/identity/tls-material.js';
import { DiscoveryClients, startTestControlPlane, eventually, type TestControlPlane } from '../../test-support/control-plane.js';

let cp: TestControlPlane;
let paymentsCert: TlsMaterial;
let ordersCert: TlsMaterial;
const discovery = new DiscoveryClients(() => cp);
const connect = (material: TlsMaterial, node: Node, onTrustBundle?: (roots: string[]) => void): DiscoveryClient => discovery.connect(material, node, onTrustBundle);

beforeAll(async () => {
  cp = await startTestControlPlane();
  [paymentsCert, ordersCert] = await Promise.all([cp.issueWorkload('shop', 'payments'), cp.issueWorkload('shop', 'orders')]);
});

afterEach(() => discovery.stopAll());

afterAll(async () => {
  await cp?.cleanup();
});

describe('discovery', () => {
  it('streams the trust bundle and the endpoints of a service the sidecar calls', async () => {
    const roots: string[][] = [];
    connect(paymentsCert, { id: 'payments-1', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7001' });
    const orders = connect(ordersCert, { id: 'orders-1', service: 'orders', namespace: 'shop', inbound_address: '127.0.0.1:7002' }, (r) => roots.push(r));
    const resolved = await eventually('payments endpoints', async () => {
      const result = await orders.resolve({ name: 'payments', namespace: 'shop' });
      return result.ok ? result.value : undefined;
    });
    expect(resolved).toEqual([{ address: '127.0.0.1:7001', identity: 'spiffe://cluster.local/ns/shop/sa/payments', nodeId: 'payments-1' }]);
    expect(roots[0]).toEqual(cp.running.ca.trustBundle());
    // Only what it asked for: orders subscribed to payments and nothing else.
    expect(Object.keys(orders.snapshot().services)).toEqual(['payments.shop']);
  });

  it('answers an unknown service as unknown, not as a timeout', async () => {
    const orders = connect(ordersCert, { id: 'orders-2', service: 'orders', namespace: 'shop', inbound_address: '127.0.0.1:7002' });
    const started = Date.now();
    const result = await orders.resolve({ name: 'nope', namespace: 'shop' });
    expect(result).toMatchObject({ ok: false, error: { kind: 'unknown-service' } });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('removes an endpoint from the others within seconds when its sidecar goes away', async () => {
    const payments = connect(paymentsCert, { id: 'payments-3', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7003' });
    const orders = connect(ordersCert, { id: 'orders-3', service: 'orders', namespace: 'shop' });
    await eventually('payments-3 endpoint', async () => {
      const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
      return r.ok && r.value.some((e) => e.nodeId === 'payments-3') ? true : undefined;
    });
    payments.stop();
    const gone = Date.now();
    const result = await eventually('payments to have no endpoints', async () => {
      const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
      return !r.ok ? r : undefined;
    }, 3_000);
    expect(result.error.kind).toBe('no-endpoints');
    expect(Date.now() - gone).toBeLessThan(3_000);
  });

  it('NACKs a config it cannot apply and keeps serving the last good one; proxy-status shows it', async () => {
    connect(paymentsCert, { id: 'payments-4', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7004' });
    const orders = connect(ordersCert, { id: 'orders-4', service: 'orders', namespace: 'shop' });
    const admin = new AdminClient(await cp.adminConfig());
    try {
      await eventually('payments-4 endpoint', async () => {
        const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
        return r.ok && r.value.length === 1 ? true : undefined;
      });
      await eventually('orders-4 SYNCED', async () => {
        const { proxies } = await admin.listProxies();
        const p = proxies.find((x) => x.node_id === 'orders-4');
        return p?.types.find((t) => t.type_url === TYPE_URLS.endpoints)?.state === 'SYNCED' ? true : undefined;
      });
      const goodVersion = orders.snapshot().types[TYPE_URLS.endpoints]?.version;
      // A record no sidecar could have registered: the registry is the control plane's real store.
      cp.running.registry.upsert('payments.shop', { nodeId: 'broken', address: 'not an address', identity: 'spiffe://cluster.local/ns/shop/sa/payments', labels: {} });
      const nacked = await eventually('orders-4 NACKED', async () => {
        const { proxies } = await admin.listProxies();
        const t = proxies.find((x) => x.node_id === 'orders-4')?.types.find((x) => x.type_url === TYPE_URLS.endpoints);
        return t?.state === 'NACKED' ? t : undefined;
      });
      expect(nacked.error).toContain('address "not an address" is not host:port');
      expect(nacked.version_acked).toBe(goodVersion);
      const still = await orders.resolve({ name: 'payments', namespace: 'shop' });
      expect(still).toMatchObject({ ok: true, value: [{ nodeId: 'payments-4' }] });
      expect(orders.snapshot().types[TYPE_URLS.endpoints]?.lastNack?.error).toContain('not host:port');
      // Once the bad record is gone the next push is ACKed again.
      cp.running.registry.remove('payments.shop', 'broken');
      await eventually('orders-4 SYNCED again', async () => {
        const { proxies } = await admin.listProxies();
        const t = proxies.find((x) => x.node_id === 'orders-4')?.types.find((x) => x.type_url === TYPE_URLS.endpoints);
        return t?.state === 'SYNCED' ? true : undefined;
      });
    } finally {
      admin.close();
    }
  });

  it('refuses a stream without a workload certificate, and a node claiming another namespace', async () => {
    const { AggregatedDiscovery } = meshProtos().discovery.tsmesh.discovery.v1;
    const roots = Buffer.from(cp.running.ca.trustBundle().join(''));
    const verify = { checkServerIdentity: () => undefined };
    const attempt = (credentials: grpc.ChannelCredentials, namespace: string): Promise<grpc.ServiceError> =>
      new Promise((resolve, reject) => {
        const client = new AggregatedDiscovery(cp.address, credentials);
        const stream = client.StreamResources();
        stream.on('data', (r: DiscoveryResponse__Output) => reject(new Error(`unexpected response ${r.type_url}`)));
        stream.on('error', (error: grpc.ServiceError) => {
          client.close();
          resolve(error);
        });
        stream.write({ node: { id: 'intruder', service: 'orders', namespace }, type_url: TYPE_URLS.trustBundle });
      });
    const anonymous = await attempt(grpc.credentials.createSsl(roots, null, null, verify), 'shop');
    expect(anonymous.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(anonymous.details).toContain('workload certificate');
    const wrongNamespace = await attempt(grpc.credentials.createSsl(roots, Buffer.from(ordersCert.keyPem), Buffer.from(ordersCert.certChainPem), verify), 'billing');
    expect(wrongNamespace.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(wrongNamespace.details).toContain('not the namespace of the caller');
  });

  it('does not tell the sidecars still connected that endpoints left while the control plane shuts down', async () => {
    connect(paymentsCert, { id: 'payments-7', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7007' });
    const orders = connect(ordersCert, { id: 'orders-7', service: 'orders', namespace: 'shop' });
    await eventually('payments-7 endpoint', async () => {
      const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
      return r.ok && r.value.some((e) => e.nodeId === 'payments-7') ? true : undefined;
    });
    // Regression: streams closing during shutdown were pushed to the others as "endpoint gone".
    const stopping = cp.stop();
    cp.running.registry.remove('payments.shop', 'payments-7');
    await stopping;
    expect(orders.snapshot().services['payments.shop']?.endpoints.map((e) => e.nodeId)).toContain('payments-7');
    await cp.restart();
  });

  it('keeps the last config while the control plane is down and reconnects when it returns', async () => {
    const payments = connect(paymentsCert, { id: 'payments-6', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7006' });
    const orders = connect(ordersCert, { id: 'orders-6', service: 'orders', namespace: 'shop' });
    await eventually('payments-6 endpoint', async () => {
      const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
      return r.ok ? true : undefined;
    });
    await cp.stop();
    await eventually('orders to notice', () => (orders.connectionState !== 'connected' ? true : undefined));
    expect(await orders.resolve({ name: 'payments', namespace: 'shop' })).toMatchObject({ ok: true, value: [{ nodeId: 'payments-6' }] });
    await cp.restart();
    await eventually('both to reconnect and re-register', () => {
      const ids = cp.running.tracker.list().map((p) => p.nodeId);
      return ids.includes('orders-6') && ids.includes('payments-6') && payments.connectionState === 'connected' ? true : undefined;
    }, 10_000);
    expect(cp.running.registry.endpoints('payments.shop')).toMatchObject([{ node_id: 'payments-6' }]);
    // Regression: the first request on a new stream carried the old stream's nonce and was ignored.
    await eventually('orders-6 endpoints SYNCED on the new stream', () => (cp.running.tracker.get('orders-6')?.types.get(TYPE_URLS.endpoints)?.state === 'SYNCED' ? true : undefined));
  });

  it('keeps endpoints a restarted control plane has not relearned yet, for a grace after the reconnect', async () => {
    const payments = connect(paymentsCert, { id: 'payments-8', service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7008' });
    const orders = discovery.connect(ordersCert, { id: 'orders-8', service: 'orders', namespace: 'shop' }, undefined, { reconnectGraceMs: 3_000 });
    const service = { name: 'payments', namespace: 'shop' };
    await eventually('payments-8 endpoint', async () => {
      const r = await orders.resolve(service);
      return r.ok ? true : undefined;
    });
    // payments is slower to come back than orders: the restarted control plane answers orders "unknown".
    await cp.stop();
    payments.stop();
    await cp.restart();
    await eventually('orders-8 to ACK the endpoints on the new stream', () => (cp.running.tracker.get('orders-8')?.types.get(TYPE_URLS.endpoints)?.state === 'SYNCED' ? true : undefined));
    expect(cp.running.registry.endpoints('payments.shop')).toBeUndefined();
    // Regression: orders dropped the endpoint it had and answered 503 MESH_ERR_NO_ROUTE until payments reconnected.
    expect(await orders.resolve(service)).toMatchObject({ ok: true, value: [{ nodeId: 'payments-8' }] });
    // Past the grace the control plane's answer holds.
    const result = await eventually('the grace to end', async () => {
      const r = await orders.resolve(service);
      return r.ok ? undefined : r;
    }, 10_000);
    expect(result).toMatchObject({ ok: false, error: { kind: 'unknown-service' } });
  });
});
