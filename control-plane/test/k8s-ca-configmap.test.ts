// Kubernetes mode: the trust bundle is published as a ConfigMap in every injected namespace, by POST or by PUT, and only when it differs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test-support/control-plane.js';
import { COLLECTIONS, FakeApiServer, fixtureJson, serveRecordedCluster, type RecordedRequest } from './k8s-api-server.js';
import { startKubernetesControlPlane, type KubernetesControlPlane } from './k8s-control-plane.js';

const PATH = (namespace: string, name = ''): string => `/api/v1/namespaces/${namespace}/configmaps${name ? `/${name}` : ''}`;
type ConfigMap = { metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string }; data: Record<string, string> };

let api: FakeApiServer;
let cp: KubernetesControlPlane;
let bundle: string;

const writes = (): RecordedRequest[] => api.requests.filter((r) => r.path.includes('/configmaps') && (r.method === 'POST' || r.method === 'PUT'));

beforeAll(async () => {
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  // shop already has an old bundle (a CA rotated while the control plane was down), labelled by its team.
  api.configMaps.set('shop/tsmesh-ca-root', fixtureJson('configmap-stale.json'));
  cp = await startKubernetesControlPlane(api);
  bundle = cp.running.ca.trustBundle().join('');
  await eventually('both namespaces published', () => (writes().length === 2 ? true : undefined));
});

afterAll(async () => {
  await cp?.stop();
  await api?.close();
});

describe('trust bundle ConfigMap', () => {
  it('watches only namespaces labelled for injection', () => {
    const namespaceRequests = api.requests.filter((r) => r.path === COLLECTIONS.namespaces);
    expect(namespaceRequests.length).toBeGreaterThanOrEqual(1);
    for (const request of namespaceRequests) expect(request.query.get('labelSelector')).toBe('tsmesh.dev/inject=enabled');
  });

  it('creates the ConfigMap where there is none: a POST with the bundle under the key the injector mounts', () => {
    const post = writes().find((r) => r.method === 'POST');
    expect(post?.path).toBe(PATH('demo'));
    expect(post?.body).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'tsmesh-ca-root', namespace: 'demo', labels: { 'app.kubernetes.io/part-of': 'tsmesh', 'app.kubernetes.io/managed-by': 'mesh-control-plane' } },
      data: { 'trust-bundle.pem': bundle },
    });
  });

  it('replaces a stale one with a PUT that carries the resourceVersion it read and keeps the owner’s labels', () => {
    const put = writes().find((r) => r.method === 'PUT');
    expect(put?.path).toBe(PATH('shop', 'tsmesh-ca-root'));
    const body = put?.body as ConfigMap;
    expect(body.metadata.resourceVersion).toBe('777');
    expect(body.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'tsmesh', team: 'shop', 'app.kubernetes.io/managed-by': 'mesh-control-plane' });
    expect(body.data).toEqual({ 'trust-bundle.pem': bundle });
  });

  it('publishes into a namespace labelled later, as the watch reports it', async () => {
    await eventually('the namespace watch', () => (api.openWatches(COLLECTIONS.namespaces).length === 1 ? true : undefined));
    api.send(COLLECTIONS.namespaces, 'namespaces-watch.jsonl');
    await eventually('the billing ConfigMap', () => (api.configMaps.get('billing/tsmesh-ca-root') ? true : undefined));
    expect((api.configMaps.get('billing/tsmesh-ca-root') as ConfigMap).data).toEqual({ 'trust-bundle.pem': bundle });
  });

  it('writes nothing when every ConfigMap already holds the bundle, and puts back one that was edited', async () => {
    const publisher = cp.running.kubernetes?.publisher;
    if (!publisher) throw new Error('not in Kubernetes mode');
    const before = writes().length;
    await publisher.refresh();
    expect(writes().length).toBe(before);
    const edited = api.configMaps.get('demo/tsmesh-ca-root') as ConfigMap;
    api.configMaps.set('demo/tsmesh-ca-root', { ...edited, data: { 'trust-bundle.pem': 'tampered' } });
    await publisher.refresh();
    expect(writes().slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`PUT ${PATH('demo', 'tsmesh-ca-root')}`]);
    expect((api.configMaps.get('demo/tsmesh-ca-root') as ConfigMap).data['trust-bundle.pem']).toBe(bundle);
  });
});
