// Kubernetes mode, Services: ClusterIP:port resolves through a real discovery client to the mesh service behind it.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { DiscoveryClient } from '../../sidecar/src/discovery/client.js';
import { MutableTlsMaterialSource, type TlsMaterial } from '../../sidecar/src/identity/tls-material.js';
import { createCsr, formatSpiffeId, generateKeyPair } from '@tsmesh/proto';
import { eventually, testLogger } from '../../test-support/control-plane.js';
import { EndpointRegistry } from '../src/discovery/registry.js';
import { controlPlaneSpiffeId } from '../src/server.js';
import { COLLECTIONS, FakeApiServer, serveRecordedCluster } from './k8s-api-server.js';
import { startKubernetesControlPlane, type KubernetesControlPlane } from './k8s-control-plane.js';

const ORDERS = { name: 'orders', namespace: 'demo' };
// Every line the Services sync writes about one service.
const SYNC_MESSAGES = ['Service port left out', 'service addresses from Services'];

let api: FakeApiServer;
let cp: KubernetesControlPlane;
let client: DiscoveryClient;
let written: MockInstance<EndpointRegistry['setServiceAddresses']>;

async function workloadCertificate(namespace: string, serviceAccount: string): Promise<TlsMaterial> {
  const keys = await generateKeyPair();
  const spiffeId = formatSpiffeId({ trustDomain: 'cluster.local', namespace, serviceAccount });
  const signed = cp.running.ca.signWorkload(createCsr({ ...keys, spiffeId }), { expectedSpiffeId: spiffeId });
  if (!signed.ok) throw new Error(signed.error.message);
  return { keyPem: keys.privateKeyPem, certChainPem: signed.value.certChainPem.join(''), trustBundlePem: signed.value.trustBundlePem, spiffeId, notAfter: signed.value.notAfter };
}

beforeAll(async () => {
  // Every write the Services watch makes, from the first list on: what was never written was never indexed.
  written = vi.spyOn(EndpointRegistry.prototype, 'setServiceAddresses');
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  cp = await startKubernetesControlPlane(api);
  client = new DiscoveryClient({
    controlPlaneAddress: cp.running.address,
    controlPlaneIdentity: controlPlaneSpiffeId('cluster.local'),
    trustDomain: 'cluster.local',
    node: { id: 'shop-5c8d7-qwert.demo', service: 'shop', namespace: 'demo' },
    tls: new MutableTlsMaterialSource(await workloadCertificate('demo', 'shop')),
    logger: testLogger,
    onTrustBundle: () => undefined,
    backoff: { baseMs: 50, maxMs: 300 },
    resolveTimeoutMs: 2_000,
  });
  client.start();
});

afterEach(() => {
  expect(cp.logs.filter((l) => l['level'] === 'error')).toEqual([]);
});

afterAll(async () => {
  client?.stop();
  await cp?.stop();
  await api?.close();
  written?.mockRestore();
});

const resolve = async (address: string): Promise<unknown> => {
  const answer = await client.resolveAddress(address);
  if (!answer.ok) throw new Error(`${address}: ${answer.error.message}`);
  return answer.value;
};
const writtenFor = (serviceKey: string): unknown[] => written.mock.calls.filter(([key]) => key === serviceKey).map(([, addresses]) => addresses);
const watching = (path: string): Promise<true> => eventually(`a watch of ${path}`, () => (api.openWatches(path).length === 1 ? true : undefined));

describe('Services in Kubernetes mode', () => {
  it('resolves a ClusterIP:port to its mesh service, with the port’s protocol and the pods’ target port', async () => {
    expect(await resolve('10.96.12.34:80')).toEqual({ service: ORDERS, protocol: 'http', targetPort: 8080, nodeId: null });
    // appProtocol kubernetes.io/h2c; targetPort "grpc" is the number the slice gives the Service port named grpc.
    expect(await resolve('10.96.12.34:9000')).toEqual({ service: ORDERS, protocol: 'http2', targetPort: 9090, nodeId: null });
    // An appProtocol we do not know leaves the protocol to detection.
    expect(await resolve('10.96.12.34:8081')).toEqual({ service: ORDERS, protocol: '', targetPort: 8081, nodeId: null });
    // UDP is not intercepted; a port the Service does not have is not the mesh's.
    expect(await resolve('10.96.12.34:53')).toBeNull();
    expect(await resolve('10.96.12.34:8080')).toBeNull();
  });

  it('leaves out a named targetPort no slice gives a number yet, says so, and adds it once a slice does', async () => {
    expect(await resolve('10.96.12.34:81')).toBeNull();
    expect(cp.logs).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'Service port left out', service: 'orders.demo', problem: expect.stringContaining('spec.ports[3] (http-admin).targetPort "admin"') as unknown }));
    await watching(COLLECTIONS.endpointSlices);
    // A headless Service's slice and one naming only a pod without the sidecar come first, then the orders slice with the port.
    expect(api.send(COLLECTIONS.endpointSlices, 'services-endpointslices-watch.jsonl')).toBe(1);
    // No appProtocol: the port name http-admin says HTTP (Istio's convention).
    const admin = await eventually('10.96.12.34:81 resolved', async () => ((await resolve('10.96.12.34:81')) ?? undefined));
    expect(admin).toEqual({ service: ORDERS, protocol: 'http', targetPort: 9901, nodeId: null });
  });

  it('indexes no Service without a ClusterIP or whose pods have no sidecar: those calls go out as dialled', async () => {
    // The slices of the last test were handled in order, so legacy-orders and orders-peers have theirs.
    expect(await resolve('10.96.40.1:80')).toBeNull();
    expect(await resolve('10.96.0.1:443')).toBeNull();
    const skipped = ['legacy-orders.demo', 'orders-peers.demo', 'payments-db.demo', 'kubernetes.default'];
    for (const key of skipped) expect(writtenFor(key)).toEqual([]);
    // Not even a complaint: a headless Service's "None" is no address to warn about, and other Services are not ours.
    expect(cp.logs.filter((l) => skipped.includes(String(l['service'])) && SYNC_MESSAGES.includes(String(l['msg'])))).toEqual([]);
    expect(writtenFor('orders.demo').length).toBeGreaterThan(0);
  });

  it('removes the addresses of a deleted Service', async () => {
    await watching(COLLECTIONS.services);
    expect(api.send(COLLECTIONS.services, 'services-watch-delete.jsonl')).toBe(1);
    await eventually('10.96.12.34:80 gone', async () => ((await resolve('10.96.12.34:80')) === null ? true : undefined));
    expect(await resolve('10.96.12.34:81')).toBeNull();
    expect(writtenFor('orders.demo').at(-1)).toEqual([]);
    expect(cp.logs).toContainEqual(expect.objectContaining({ msg: 'service addresses from Services', service: 'orders.demo', addresses: [], deleted: true }));
  });
});
