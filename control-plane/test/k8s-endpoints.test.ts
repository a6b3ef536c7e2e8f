// Kubernetes mode, endpoint half: EndpointSlices and Pods from a recorded API server feed the registry of two replicas alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test-support/control-plane.js';
import type { EndpointRegistry } from '../src/discovery/registry.js';
import { COLLECTIONS, FakeApiServer, serveRecordedCluster } from './k8s-api-server.js';
import { startKubernetesControlPlane, type KubernetesControlPlane } from './k8s-control-plane.js';

const ORDERS = 'orders.demo';
const FIRST = 'orders-7d9f4-abcde.demo';
const SECOND = 'orders-7d9f4-fghij.demo';
const IDENTITY = 'spiffe://cluster.local/ns/demo/sa/orders';

let api: FakeApiServer;
const replicas: KubernetesControlPlane[] = [];

beforeAll(async () => {
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  const first = await startKubernetesControlPlane(api);
  replicas.push(first, await startKubernetesControlPlane(api, { sameCaAs: first }));
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await api?.close();
});

const registries = (): EndpointRegistry[] => replicas.map((r) => r.running.registry);
const nodeIds = (registry: EndpointRegistry): string[] | undefined => registry.endpoints(ORDERS)?.map((e) => e.node_id ?? '');
// Every replica's answer, once they all agree on `expected`.
const agreed = (what: string, expected: string[]): Promise<true> =>
  eventually(what, () => (registries().every((r) => JSON.stringify(nodeIds(r)) === JSON.stringify(expected)) ? true : undefined));
const watching = (path: string, count: number): Promise<true> => eventually(`${count} watches of ${path}`, () => (api.openWatches(path).length === count ? true : undefined));

describe('EndpointSlices in Kubernetes mode', () => {
  it('registers each ready pod with the injected sidecar: inbound address, SPIFFE ID of its service account, and its app ports', () => {
    for (const registry of registries()) {
      expect(registry.endpoints(ORDERS)).toEqual([{ address: '10.244.1.5:15006', identity: IDENTITY, node_id: FIRST, labels: { app: 'orders', 'pod-template-hash': '7d9f4' } }]);
      expect(registry.byAddress('10.244.1.5:8080')).toEqual({ serviceKey: ORDERS, protocol: 'http', nodeId: FIRST });
      expect(registry.byAddress('10.244.1.5:9090')).toEqual({ serviceKey: ORDERS, protocol: 'http2', nodeId: FIRST });
      expect(registry.byAddress('10.244.1.5:8081')).toEqual({ serviceKey: ORDERS, protocol: '', nodeId: FIRST });
      // UDP is not proxied; the pod without a sidecar (legacy-orders-0) and the API server's own slice are not mesh endpoints.
      expect(registry.byAddress('10.244.1.5:5353')).toBeUndefined();
      expect(registry.byAddress('10.244.1.9:8080')).toBeUndefined();
      expect(registry.serviceKeys()).toEqual([ORDERS]);
    }
  });

  it('adds a pod once its slice says ready, in both replicas', async () => {
    await watching(COLLECTIONS.endpointSlices, 2);
    expect(api.send(COLLECTIONS.endpointSlices, 'endpointslices-watch-ready.jsonl')).toBe(2);
    await agreed('the second pod in both replicas', [FIRST, SECOND]);
    expect(replicas[1]?.running.registry.byAddress('10.244.2.7:9090')).toEqual({ serviceKey: ORDERS, protocol: 'http2', nodeId: SECOND });
  });

  it('keeps one entry per pod when its sidecar registers itself, and keeps it when that sidecar’s stream closes', async () => {
    const registry = replicas[0]?.running.registry;
    if (!registry) throw new Error('no replica');
    // What the sidecar's discovery stream does (stream.ts): the same node id, its own labels, no app ports.
    registry.upsert(ORDERS, { nodeId: SECOND, address: '10.244.2.7:15006', identity: IDENTITY, labels: {} });
    expect(nodeIds(registry)).toEqual([FIRST, SECOND]);
    registry.remove(ORDERS, SECOND);
    await eventually('the slice’s entry back', () => (registry.byAddress('10.244.2.7:8080') && nodeIds(registry)?.length === 2 ? true : undefined));
    expect(registry.endpoints(ORDERS)?.find((e) => e.node_id === SECOND)?.labels).toEqual({ app: 'orders', 'pod-template-hash': '7d9f4' });
  });

  it('takes out a terminating pod, even while its sidecar is still registered', async () => {
    replicas[0]?.running.registry.upsert(ORDERS, { nodeId: FIRST, address: '10.244.1.5:15006', identity: IDENTITY, labels: {} });
    api.send(COLLECTIONS.endpointSlices, 'endpointslices-watch-terminating.jsonl');
    await agreed('the first pod gone from both replicas', [SECOND]);
    expect(replicas[0]?.running.registry.byAddress('10.244.1.5:8080')).toBeUndefined();
  });

  it('lists again after 410 Gone, from scratch, and watches on from the new list', async () => {
    const listsBefore = api.requests.filter((r) => r.path === COLLECTIONS.endpointSlices && r.query.get('watch') === null).length;
    const watchesBefore = api.watchRequests(COLLECTIONS.endpointSlices).length;
    api.lists.set(COLLECTIONS.endpointSlices, 'endpointslices-relist.json');
    // The real API server sends the Expired status as an ERROR event, then ends the watch.
    api.send(COLLECTIONS.endpointSlices, 'watch-gone.jsonl', { end: true });
    await eventually('two new watches', () => (api.watchRequests(COLLECTIONS.endpointSlices).length === watchesBefore + 2 ? true : undefined));
    const lists = api.requests.filter((r) => r.path === COLLECTIONS.endpointSlices && r.query.get('watch') === null).length;
    expect(lists - listsBefore).toBe(2);
    expect(api.watchRequests(COLLECTIONS.endpointSlices).slice(-2).map((q) => q.get('resourceVersion'))).toEqual(['6000', '6000']);
    await agreed('the relisted state', [SECOND]);
  });

  it('restarts a watch whose connection dropped, from the last resourceVersion it saw', async () => {
    const before = api.watchRequests(COLLECTIONS.endpointSlices).length;
    for (const watch of api.openWatches(COLLECTIONS.endpointSlices)) watch.res.socket?.destroy();
    await eventually('both watches back', () => (api.watchRequests(COLLECTIONS.endpointSlices).length === before + 2 && api.openWatches(COLLECTIONS.endpointSlices).length === 2 ? true : undefined));
    expect(api.watchRequests(COLLECTIONS.endpointSlices).slice(-2).map((q) => q.get('resourceVersion'))).toEqual(['6000', '6000']);
    expect(replicas[0]?.logs.some((l) => l['msg'] === 'watch failed; restarting it after a pause' && l['what'] === 'endpointslices.discovery.k8s.io')).toBe(true);
  });

  it('removes every endpoint of a deleted slice, and the service stays known', async () => {
    api.send(COLLECTIONS.endpointSlices, 'endpointslices-watch-delete.jsonl');
    await agreed('no endpoints', []);
    expect(replicas[1]?.running.registry.byAddress('10.244.2.7:8080')).toBeUndefined();
  });
});
