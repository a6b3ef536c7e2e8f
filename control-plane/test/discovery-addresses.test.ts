// Workload addresses on the discovery stream: a sidecar registers its pod IP and app ports, a caller looks them up.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DiscoveryClient } from '../../sidecar/src/discovery/client.js';
import type { TlsMaterial } from '../../sidecar/src/identity/tls-material.js';
import { DiscoveryClients, startTestControlPlane, eventually, type TestControlPlane } from '../../test-support/control-plane.js';
import * as grpc from '@grpc/grpc-js';
import { meshProtos, TYPE_URLS, type DiscoveryResponse__Output, type Node } from '@tsmesh/proto';

let cp: TestControlPlane;
let paymentsCert: TlsMaterial;
let ordersCert: TlsMaterial;
const discovery = new DiscoveryClients(() => cp);
const connect = (material: TlsMaterial, node: Node): DiscoveryClient => discovery.connect(material, node);

beforeAll(async () => {
  cp = await startTestControlPlane();
  [paymentsCert, ordersCert] = await Promise.all([cp.issueWorkload('shop', 'payments'), cp.issueWorkload('shop', 'orders')]);
});

afterEach(() => discovery.stopAll());

afterAll(async () => {
  await cp?.cleanup();
});

const paymentsNode = (id: string, ip: string): Node => ({
  id,
  service: 'payments',
  namespace: 'shop',
  inbound_address: `${ip}:15006`,
  pod_ip: ip,
  app_ports: [
    { port: 8080, protocol: '' },
    { port: 9090, protocol: 'grpc' },
    { port: 5432, protocol: 'tcp' },
  ],
});

describe('workload addresses', () => {
  it('tells a caller which service serves an ip:port, with the declared protocol, and nothing for other addresses', async () => {
    connect(paymentsCert, paymentsNode('payments-a1', '10.9.0.2'));
    const orders = connect(ordersCert, { id: 'orders-a1', service: 'orders', namespace: 'shop' });
    const grpcPort = await eventually('10.9.0.2:9090 known', async () => {
      const r = await orders.resolveAddress('10.9.0.2:9090');
      return r.ok && r.value !== null ? r.value : undefined;
    });
    expect(grpcPort).toEqual({ service: { name: 'payments', namespace: 'shop' }, protocol: 'grpc', targetPort: null, nodeId: 'payments-a1' });
    expect(await orders.resolveAddress('10.9.0.2:5432')).toEqual({ ok: true, value: { service: { name: 'payments', namespace: 'shop' }, protocol: 'tcp', targetPort: null, nodeId: 'payments-a1' } });
    expect(await orders.resolveAddress('10.9.0.2:8080')).toEqual({ ok: true, value: { service: { name: 'payments', namespace: 'shop' }, protocol: '', targetPort: null, nodeId: 'payments-a1' } });
    // A port the workload did not declare, and an address no workload has: not in the mesh.
    expect(await orders.resolveAddress('10.9.0.2:22')).toEqual({ ok: true, value: null });
    expect(await orders.resolveAddress('192.0.2.1:443')).toEqual({ ok: true, value: null });
  });

  it('updates a subscribed address when its workload leaves and another takes it', async () => {
    const first = connect(paymentsCert, paymentsNode('payments-a2', '10.9.0.3'));
    const orders = connect(ordersCert, { id: 'orders-a2', service: 'orders', namespace: 'shop' });
    await eventually('10.9.0.3:8080 known', async () => {
      const r = await orders.resolveAddress('10.9.0.3:8080');
      return r.ok && r.value !== null ? true : undefined;
    });
    first.stop();
    await eventually('10.9.0.3:8080 gone', async () => {
      const r = await orders.resolveAddress('10.9.0.3:8080');
      return r.ok && r.value === null ? true : undefined;
    }, 3_000);
    connect(ordersCert, { id: 'orders-a3', service: 'orders', namespace: 'shop', inbound_address: '10.9.0.3:15006', pod_ip: '10.9.0.3', app_ports: [{ port: 8080, protocol: 'http' }] });
    const owner = await eventually('10.9.0.3:8080 owned by orders', async () => {
      const r = await orders.resolveAddress('10.9.0.3:8080');
      return r.ok && r.value?.service.name === 'orders' ? r.value : undefined;
    }, 3_000);
    expect(owner.protocol).toBe('http');
  });

  it('keeps an address a restarted control plane has not relearned yet, for a grace after the reconnect', async () => {
    const payments = connect(paymentsCert, paymentsNode('payments-a4', '10.9.0.5'));
    const orders = discovery.connect(ordersCert, { id: 'orders-a4', service: 'orders', namespace: 'shop' }, undefined, { reconnectGraceMs: 3_000 });
    await eventually('10.9.0.5:8080 known', async () => {
      const r = await orders.resolveAddress('10.9.0.5:8080');
      return r.ok && r.value !== null ? true : undefined;
    });
    // payments is slower to come back than orders: the restarted control plane answers orders "outside the mesh".
    await cp.stop();
    payments.stop();
    await cp.restart();
    await eventually('orders-a4 to ACK the addresses on the new stream', () => (cp.running.tracker.get('orders-a4')?.types.get(TYPE_URLS.workloadAddresses)?.state === 'SYNCED' ? true : undefined));
    expect(cp.running.registry.byAddress('10.9.0.5:8080')).toBeUndefined();
    // Applied at once, it would send the pod's traffic out as dialled, without mTLS.
    expect(await orders.resolveAddress('10.9.0.5:8080')).toMatchObject({ ok: true, value: { nodeId: 'payments-a4' } });
    await eventually('the grace to end', async () => {
      const r = await orders.resolveAddress('10.9.0.5:8080');
      return r.ok && r.value === null ? true : undefined;
    }, 10_000);
  });

  it('keeps a pod address owned by each of two services it serves, and removing one leaves the other', () => {
    const registry = cp.running.registry;
    const pod = { nodeId: 'web-0.shop', address: '10.9.0.9:15006', identity: 'spiffe://cluster.local/ns/shop/sa/web', labels: {}, workloadPorts: [{ address: '10.9.0.9:8080', protocol: 'http' as const }] };
    registry.upsert('web.shop', pod);
    registry.upsert('web-headless.shop', pod);
    try {
      expect(registry.byAddress('10.9.0.9:8080')).toMatchObject({ serviceKey: 'web-headless.shop', nodeId: 'web-0.shop' });
      registry.remove('web-headless.shop', 'web-0.shop');
      expect(registry.byAddress('10.9.0.9:8080')).toMatchObject({ serviceKey: 'web.shop', nodeId: 'web-0.shop' });
    } finally {
      registry.remove('web.shop', 'web-0.shop');
    }
    expect(registry.byAddress('10.9.0.9:8080')).toBeUndefined();
  });

  it("answers a service's virtual address (a ClusterIP) with its target port, and a workload's own address wins", async () => {
    const orders = connect(ordersCert, { id: 'orders-v1', service: 'orders', namespace: 'shop' });
    cp.running.registry.setServiceAddresses('payments.shop', [
      { address: '10.96.0.10:80', protocol: 'http', targetPort: 8080 },
      { address: '10.96.0.10:9090', protocol: 'grpc', targetPort: 9090 },
    ]);
    try {
      expect(await orders.resolveAddress('10.96.0.10:80')).toEqual({ ok: true, value: { service: { name: 'payments', namespace: 'shop' }, protocol: 'http', targetPort: 8080, nodeId: null } });
      cp.running.registry.setServiceAddresses('payments.shop', [{ address: '10.96.0.10:9090', protocol: 'grpc', targetPort: 9090 }]);
      await eventually('10.96.0.10:80 gone', async () => {
        const r = await orders.resolveAddress('10.96.0.10:80');
        return r.ok && r.value === null ? true : undefined;
      }, 3_000);
    } finally {
      cp.running.registry.setServiceAddresses('payments.shop', []);
    }
  });

  it.each([
    [{ pod_ip: 'not-an-ip', app_ports: [{ port: 8080, protocol: '' }] }, 'node.pod_ip "not-an-ip" must be the IP address'],
    [{ pod_ip: '10.9.0.4', app_ports: [{ port: 0, protocol: '' }] }, 'node.app_ports: 0 is not a port'],
    [{ pod_ip: '10.9.0.4', app_ports: [{ port: 8080, protocol: 'mongo' }] }, 'protocol "mongo" of port 8080 is not one of http, http2, grpc, tcp'],
    [{ pod_ip: '10.9.0.4', app_ports: [{ port: 8080, protocol: '' }], inbound_address: '' }, 'node.app_ports needs node.inbound_address'],
  ])('refuses a registration with %j, saying why', async (fields, message) => {
    const { AggregatedDiscovery } = meshProtos().discovery.tsmesh.discovery.v1;
    const credentials = grpc.credentials.createSsl(Buffer.from(cp.running.ca.trustBundle().join('')), Buffer.from(paymentsCert.keyPem), Buffer.from(paymentsCert.certChainPem), { checkServerIdentity: () => undefined });
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      const client = new AggregatedDiscovery(cp.address, credentials);
      const stream = client.StreamResources();
      stream.on('data', (r: DiscoveryResponse__Output) => reject(new Error(`unexpected response ${r.type_url}`)));
      stream.on('error', (e: grpc.ServiceError) => {
        client.close();
        resolve(e);
      });
      stream.write({ node: { id: 'payments-bad', service: 'payments', namespace: 'shop', inbound_address: '10.9.0.4:15006', ...fields }, type_url: TYPE_URLS.trustBundle });
    });
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toContain(message);
  });
});
