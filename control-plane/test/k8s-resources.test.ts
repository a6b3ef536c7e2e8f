// Kubernetes mode, config half: custom resources from a recorded API server flow into the ConfigView, invalid ones are skipped with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test-support/control-plane.js';
import { createConfigView, type ConfigView } from '../src/discovery/config-view.js';
import { AdminClient } from '../src/cli/admin-client.js';
import { COLLECTIONS, FakeApiServer, serveRecordedCluster } from './k8s-api-server.js';
import { startKubernetesControlPlane, type KubernetesControlPlane } from './k8s-control-plane.js';

let api: FakeApiServer;
let cp: KubernetesControlPlane;
let view: ConfigView;
let changes = 0;

beforeAll(async () => {
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  cp = await startKubernetesControlPlane(api);
  const resources = cp.running.kubernetes?.resources;
  if (!resources) throw new Error('the control plane did not start in Kubernetes mode');
  view = createConfigView(resources);
  view.onChange(() => changes++);
});

afterAll(async () => {
  await cp?.stop();
  await api?.close();
});

const routeTimeouts = (service: string): unknown[] => view.serviceRoutes(service, 'demo').httpRoutes.map((r) => [r.metadata.name, r.spec.rules[0]?.timeouts?.request]);

describe('custom resources in Kubernetes mode', () => {
  it('lists every kind with the client library and serves the valid resources, stripped of API server metadata', () => {
    for (const plural of ['httproutes', 'authorizationpolicies', 'meshconfigs', 'destinationpolicies', 'ratelimitpolicies']) {
      expect(api.requests.some((r) => r.method === 'GET' && r.path === `/apis/mesh.tsmesh.dev/v1alpha1/${plural}` && r.query.get('watch') === null)).toBe(true);
    }
    const routes = view.serviceRoutes('orders', 'demo').httpRoutes;
    expect(routes.map((r) => r.metadata.name)).toEqual(['orders']);
    expect(routes[0]?.metadata).toEqual({ name: 'orders', namespace: 'demo', labels: { team: 'orders' } });
    const policy = view.inboundPolicy('payments', 'demo');
    expect(policy.authorizationPolicies.map((p) => p.metadata.name)).toEqual(['payments-callers']);
    expect(policy.meshConfig?.spec).toEqual({ mtls: { mode: 'STRICT' }, defaultPolicy: 'allow-authenticated' });
  });

  it('skips an invalid custom resource with one log line naming it, the field path and what is wrong', () => {
    const skipped = cp.logs.filter((l) => l['msg'] === 'skipped an invalid custom resource');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ level: 'warn', resource: 'HTTPRoute demo/orders-slow', problems: ['spec.rules[0].timeouts.perTry: the per-try timeout 5s is longer than the request timeout 1s'] });
  });

  it('resumes the watch from the list’s resourceVersion and fires onChange on updates and adds', async () => {
    await eventually('the HTTPRoute watch', () => (api.openWatches(COLLECTIONS.httpRoutes).length > 0 ? true : undefined));
    expect(api.watchRequests(COLLECTIONS.httpRoutes)[0]?.get('resourceVersion')).toBe('5021');
    const before = changes;
    api.send(COLLECTIONS.httpRoutes, 'httproutes-watch.jsonl');
    await eventually('the update and the new route', () => (view.serviceRoutes('inventory', 'demo').httpRoutes.length === 1 ? true : undefined));
    expect(routeTimeouts('orders')).toEqual([['orders', '2s']]);
    expect(changes - before).toBe(2);
  });

  it('drops a resource an update made invalid, logs why, and keeps the others', async () => {
    const before = changes;
    api.send(COLLECTIONS.httpRoutes, 'httproutes-watch-invalid.jsonl');
    await eventually('the canary route to go', () => (view.serviceRoutes('inventory', 'demo').httpRoutes.length === 0 ? true : undefined));
    expect(changes - before).toBe(1);
    expect(routeTimeouts('orders')).toEqual([['orders', '2s']]);
    expect(cp.logs.filter((l) => l['msg'] === 'skipped an invalid custom resource').at(-1)).toMatchObject({
      resource: 'HTTPRoute demo/orders-canary',
      problems: [expect.stringMatching(/^spec\.rules\[0\]\.matches\[0\]\.path\.value: not a valid regular expression/)],
    });
  });

  it('fires onChange on a delete and stops serving the resource', async () => {
    const before = changes;
    api.send(COLLECTIONS.httpRoutes, 'httproutes-watch-delete.jsonl');
    await eventually('the orders route to go', () => (view.serviceRoutes('orders', 'demo').httpRoutes.length === 0 ? true : undefined));
    expect(changes - before).toBe(1);
  });

  it('refuses meshctl apply, delete and rollback with a pointer to kubectl, and lists the custom resources for meshctl get', async () => {
    const admin = new AdminClient(await cp.adminConfig());
    try {
      const resource = { apiVersion: 'mesh.tsmesh.dev/v1alpha1', kind: 'HTTPRoute', metadata: { name: 'x', namespace: 'demo' }, spec: { service: 'x', rules: [{}] } };
      await expect(admin.apply([resource])).rejects.toThrow(/FAILED_PRECONDITION.*meshctl apply: in Kubernetes mode .*kubectl apply -f FILE/s);
      await expect(admin.delete([{ kind: 'HTTPRoute', namespace: 'demo', name: 'x' }])).rejects.toThrow(/meshctl delete: in Kubernetes mode/);
      await expect(admin.rollback(1)).rejects.toThrow(/meshctl rollback: in Kubernetes mode/);
      const listed = await admin.get({ kind: 'AuthorizationPolicy', namespace: 'demo' });
      expect(listed.resources_json.map((j) => (JSON.parse(j) as { metadata: { name: string } }).metadata.name)).toEqual(['payments-callers']);
      await expect(admin.get({ kind: 'HTTPRoute', namespace: 'demo', name: 'orders-slow' })).rejects.toThrow(/not found among the valid custom resources/);
    } finally {
      admin.close();
    }
  });
});
