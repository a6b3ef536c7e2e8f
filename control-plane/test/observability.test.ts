// The control plane's own telemetry over its real HTTP port: metrics that agree with what happened, and push spans linked to the apply.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, TYPE_URLS, type Node } from '@tsmesh/proto';
import { AdminClient } from '@tsmesh/control-plane';
import type { DiscoveryClient } from '../../sidecar/src/discovery/client.js';
import type { TlsMaterial } from '../../sidecar/src/identity/tls-material.js';
import { DiscoveryClients, startTestControlPlane, eventually, type TestControlPlane } from '../../test-support/control-plane.js';
import type { TraceJson, TraceSummary } from '../src/observability/trace-store.js';
import { parsePrometheus, type Sample } from '../../test-support/prometheus.js';

let cp: TestControlPlane;
let paymentsCert: TlsMaterial;
let ordersCert: TlsMaterial;
let admin: AdminClient;
const discovery = new DiscoveryClients(() => cp);
const connect = (material: TlsMaterial, node: Node): DiscoveryClient => discovery.connect(material, node);

async function scrape(): Promise<{ samples: Sample[]; types: Map<string, string> }> {
  const response = await fetch(`http://${cp.running.httpAddress}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return parsePrometheus(await response.text());
}

const metric = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`http://${cp.running.httpAddress}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

// Orders calls payments: subscribed to its endpoints and routes, both SYNCED.
async function ordersCallingPayments(suffix: string): Promise<DiscoveryClient> {
  connect(paymentsCert, { id: `payments-${suffix}`, service: 'payments', namespace: 'shop', inbound_address: '127.0.0.1:7101' });
  const orders = connect(ordersCert, { id: `orders-${suffix}`, service: 'orders', namespace: 'shop' });
  await eventually('payments endpoints', async () => {
    const r = await orders.resolve({ name: 'payments', namespace: 'shop' });
    return r.ok && r.value.some((e) => e.nodeId === `payments-${suffix}`) ? true : undefined;
  });
  await eventually('orders synced', () => {
    const types = cp.running.tracker.get(`orders-${suffix}`)?.types;
    return [TYPE_URLS.endpoints, TYPE_URLS.serviceRoutes].every((t) => types?.get(t)?.state === 'SYNCED') ? true : undefined;
  });
  return orders;
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  [paymentsCert, ordersCert] = await Promise.all([cp.issueWorkload('shop', 'payments'), cp.issueWorkload('shop', 'orders')]);
  admin = new AdminClient(await cp.adminConfig());
});

afterEach(async () => {
  discovery.stopAll();
  await eventually('all sidecars gone', () => (cp.running.tracker.list().length === 0 ? true : undefined));
});

afterAll(async () => {
  admin?.close();
  await cp?.cleanup();
});

describe('control plane metrics', () => {
  it('counts connected sidecars, certificates and the store revision, read back from /metrics', async () => {
    const before = await scrape();
    expect(metric(before.samples, 'mesh_cp_connected_sidecars')).toBe(0);
    expect(before.types.get('mesh_cp_config_push_seconds')).toBe('histogram');
    await ordersCallingPayments('a');
    const after = await scrape();
    expect(metric(after.samples, 'mesh_cp_connected_sidecars')).toBe(2);
    expect(metric(after.samples, 'mesh_cp_certificates_issued_total')).toBe(cp.running.ca.certificatesIssued);
    expect(metric(after.samples, 'mesh_cp_certificates_issued_total')).toBeGreaterThanOrEqual(2);
    expect(metric(after.samples, 'mesh_cp_store_revision')).toBe(cp.running.store.revision);
    // Each sidecar got its trust bundle at least; orders also endpoints and routes.
    expect(metric(after.samples, 'mesh_cp_pushes_total', { type: 'TrustBundle' })).toBeGreaterThanOrEqual(2);
    expect(metric(after.samples, 'mesh_cp_pushes_total', { type: 'ServiceEndpoints' })).toBeGreaterThanOrEqual(1);
  });

  it('records a config change to its ACK in mesh_cp_config_push_seconds, per type', async () => {
    await ordersCallingPayments('b');
    const before = (await scrape()).samples;
    const countBefore = metric(before, 'mesh_cp_config_push_seconds_count', { type: 'ServiceRoutes' });
    const revision = cp.running.store.revision;
    await admin.apply([{ apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: 'payments-b', namespace: 'shop' }, spec: { service: 'payments', rules: [{ backends: [{ service: 'payments' }] }] } }]);
    const after = await eventually('the routes push ACKed and observed', async () => {
      const samples = (await scrape()).samples;
      return metric(samples, 'mesh_cp_config_push_seconds_count', { type: 'ServiceRoutes' }) > countBefore ? samples : undefined;
    });
    expect(metric(after, 'mesh_cp_config_push_seconds_count', { type: 'ServiceRoutes' })).toBe(countBefore + 1);
    expect(metric(after, 'mesh_cp_store_revision')).toBe(revision + 1);
    const sumDelta = metric(after, 'mesh_cp_config_push_seconds_sum', { type: 'ServiceRoutes' }) - metric(before, 'mesh_cp_config_push_seconds_sum', { type: 'ServiceRoutes' });
    // At least the 20 ms debounce of the test control plane, and well under the test's patience.
    expect(sumDelta).toBeGreaterThanOrEqual(0.015);
    expect(sumDelta).toBeLessThan(5);
    const buckets = after.filter((s) => s.name === 'mesh_cp_config_push_seconds_bucket' && s.labels['type'] === 'ServiceRoutes');
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: countBefore + 1 });
    expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b));
  });

  it('counts a NACK per type, and not as convergence', async () => {
    const orders = await ordersCallingPayments('c');
    const before = (await scrape()).samples;
    cp.running.registry.upsert('payments.shop', { nodeId: 'broken', address: 'not an address', identity: 'spiffe://cluster.local/ns/shop/sa/payments', labels: {} });
    try {
      const after = await eventually('the NACK counted', async () => {
        const samples = (await scrape()).samples;
        return metric(samples, 'mesh_cp_nacks_total', { type: 'ServiceEndpoints' }) > metric(before, 'mesh_cp_nacks_total', { type: 'ServiceEndpoints' }) ? samples : undefined;
      });
      expect(metric(after, 'mesh_cp_nacks_total', { type: 'ServiceEndpoints' })).toBe(metric(before, 'mesh_cp_nacks_total', { type: 'ServiceEndpoints' }) + 1);
      expect(metric(after, 'mesh_cp_config_push_seconds_count', { type: 'ServiceEndpoints' })).toBe(metric(before, 'mesh_cp_config_push_seconds_count', { type: 'ServiceEndpoints' }));
      expect(orders.snapshot().types[TYPE_URLS.endpoints]?.lastNack?.error).toContain('not host:port');
    } finally {
      cp.running.registry.remove('payments.shop', 'broken');
    }
  });

  it('answers /ready', async () => {
    const response = await fetch(`http://${cp.running.httpAddress}/ready`);
    expect(response.status).toBe(200);
  });
});

describe('control plane spans', () => {
  it('makes each push a config.push span linked to the admin.apply span that caused it', async () => {
    await ordersCallingPayments('d');
    const response = await admin.apply([{ apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: 'payments-d', namespace: 'shop' }, spec: { service: 'payments', rules: [{ backends: [{ service: 'payments' }] }] } }]);
    const revision = Number(response.revision);
    const { traces } = await getJson<{ traces: TraceSummary[] }>('/api/traces?limit=1000');
    const applies = await Promise.all(traces.filter((t) => t.rootName === 'admin.apply').map((t) => getJson<TraceJson>(`/api/traces/${t.traceId}`)));
    const apply = applies.flatMap((t) => t.spans).find((s) => s.attributes['mesh.store.revision'] === revision);
    expect(apply).toMatchObject({ service: 'mesh-control-plane', name: 'admin.apply', parentSpanId: '', attributes: { 'mesh.change.keys': ['created HTTPRoute/shop/payments-d'] } });
    const push = await eventually('the linked push span', async () => {
      const list = (await getJson<{ traces: TraceSummary[] }>('/api/traces?limit=1000')).traces.filter((t) => t.rootName === 'config.push');
      for (const summary of list) {
        const span = (await getJson<TraceJson>(`/api/traces/${summary.traceId}`)).spans[0];
        if (span?.links.some((l) => l.spanId === apply?.spanId && l.traceId === apply.traceId)) return span;
      }
      return undefined;
    });
    expect(push).toMatchObject({
      name: 'config.push',
      kind: 'PRODUCER',
      service: 'mesh-control-plane',
      attributes: { 'mesh.push.type': 'ServiceRoutes', 'mesh.node.id': 'orders-d', 'mesh.push.resources': 1, 'mesh.push.cause': 'change', 'mesh.push.outcome': 'ack' },
    });
    expect(push.attributes['mesh.push.version']).toBe(cp.running.tracker.get('orders-d')?.types.get(TYPE_URLS.serviceRoutes)?.versionAcked);
  });
});
