// EndpointSlices to registry endpoints as pure functions: app protocols, dual stack, what is skipped, node ids the injector agrees with; watch backoff.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { desiredEndpoints, meshPod, podNodeId, sliceFacts, type MeshPod } from '../src/k8s/endpoint-model.js';
import { appProtocolOf } from '../src/k8s/app-protocol.js';
import { watchRetryDelay } from '../src/k8s/watch.js';
import { injectObject } from '../src/k8s/inject.js';
import { DEFAULT_INJECT_OPTIONS } from '../src/k8s/sidecar-spec.js';

const slice = (addressType: string, address: string, extra: Partial<V1EndpointSlice> = {}): V1EndpointSlice => ({
  metadata: { name: `web-${addressType.toLowerCase()}`, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType,
  endpoints: [{ addresses: [address], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web-0', namespace: 'shop' } }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }],
  ...extra,
});
const pods = new Map<string, MeshPod>([['web-0.shop', { nodeId: 'web-0.shop', namespace: 'shop', serviceAccount: 'web', labels: { app: 'web' } }]]);

describe('endpoint model', () => {
  it.each([
    ['http', 'http'],
    ['HTTP', 'http'],
    ['http2', 'http2'],
    ['h2c', 'http2'],
    ['kubernetes.io/h2c', 'http2'],
    ['grpc', 'grpc'],
    ['tcp', 'tcp'],
    ['kubernetes.io/ws', ''],
    ['https', ''],
    [undefined, ''],
  ])('appProtocol %s is %j', (given, expected) => {
    expect(appProtocolOf(given)).toBe(expected);
  });

  it('merges a dual-stack pod into one endpoint, dialled at its IPv4 address, with both families’ app ports', () => {
    const facts = [slice('IPv4', '10.1.0.4'), slice('IPv6', 'fd00::4')].map((s) => sliceFacts(s)).filter((f) => f !== undefined);
    expect(Object.fromEntries(desiredEndpoints(facts, pods, 'cluster.local'))).toEqual({
      'web-0.shop': {
        nodeId: 'web-0.shop',
        address: '10.1.0.4:15006',
        identity: 'spiffe://cluster.local/ns/shop/sa/web',
        labels: { app: 'web' },
        workloadPorts: [
          { address: '10.1.0.4:8080', protocol: 'http' },
          { address: '[fd00::4]:8080', protocol: 'http' },
        ],
      },
    });
  });

  it('skips FQDN slices, slices no Service owns, endpoints that are no pod, and unready or terminating endpoints', () => {
    expect(sliceFacts(slice('FQDN', 'db.example.com'))).toBeUndefined();
    expect(sliceFacts({ ...slice('IPv4', '10.1.0.4'), metadata: { name: 'manual', namespace: 'shop' } })).toBeUndefined();
    const endpoints = [
      { addresses: ['10.1.0.5'], targetRef: { kind: 'Node', name: 'node-1' } },
      { addresses: ['10.1.0.6'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'web-1' } },
      { addresses: ['10.1.0.7'], conditions: { ready: true, terminating: true }, targetRef: { kind: 'Pod', name: 'web-2' } },
      { addresses: ['10.1.0.8'], targetRef: { kind: 'Pod', name: 'web-3' } },
    ];
    expect(sliceFacts(slice('IPv4', '10.1.0.4', { endpoints }))?.endpoints).toEqual([
      { nodeId: 'web-1.shop', address: '10.1.0.6', ready: false },
      { nodeId: 'web-2.shop', address: '10.1.0.7', ready: false },
      // Readiness unset means unknown, which counts as ready.
      { nodeId: 'web-3.shop', address: '10.1.0.8', ready: true },
    ]);
  });

  it('counts only pods with the injected sidecar, under their service account (default when none is named)', () => {
    const pod = (containers: string[], serviceAccountName?: string): V1Pod => ({ metadata: { name: 'web-0', namespace: 'shop' }, spec: { ...(serviceAccountName ? { serviceAccountName } : {}), initContainers: containers.map((name) => ({ name })), containers: [{ name: 'app' }] } });
    expect(meshPod(pod([]))).toBeUndefined();
    expect(meshPod(pod(['tsmesh-init', 'tsmesh-sidecar']))).toEqual({ nodeId: 'web-0.shop', namespace: 'shop', serviceAccount: 'default', labels: {} });
    expect(meshPod(pod(['tsmesh-init', 'tsmesh-sidecar'], 'web'))?.serviceAccount).toBe('web');
  });

  it('names a pod as the injected sidecar names itself, so its own registration replaces the slice’s entry', () => {
    const injected = injectObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'web' }] } }, DEFAULT_INJECT_OPTIONS);
    if (!injected.ok || !injected.value.injected) throw new Error('not injected');
    const spec = injected.value.object['spec'] as { initContainers: Array<{ name: string; env: Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }> }> };
    const env = spec.initContainers.find((c) => c.name === 'tsmesh-sidecar')?.env ?? [];
    // What the kubelet does: field references resolved, then $(NAME) expanded from the variables before.
    const fields: Record<string, string> = { 'metadata.name': 'web-0', 'metadata.namespace': 'shop' };
    const values = new Map<string, string>();
    for (const e of env) values.set(e.name, e.valueFrom ? (fields[e.valueFrom.fieldRef.fieldPath] ?? '') : (e.value ?? '').replace(/\$\(([A-Z_]+)\)/g, (_m, name: string) => values.get(name) ?? ''));
    expect(values.get('MESH_NODE_ID')).toBe(podNodeId('shop', 'web-0'));
    expect(values.get('MESH_KUBERNETES_TOKEN_FILE')).toBe('/var/run/secrets/tsmesh/token/token');
    expect(values.has('MESH_TOKEN_FILE')).toBe(false);
  });

  it('mounts the projected token for the audience the control plane reviews with', () => {
    const injected = injectObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'web' }] } }, { ...DEFAULT_INJECT_OPTIONS, tokenAudience: 'mesh.example' });
    const volumes = injected.ok ? ((injected.value.object['spec'] as { volumes: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken?: { audience: string } }> } }> }).volumes) : [];
    expect(volumes.find((v) => v.name === 'tsmesh-token')?.projected?.sources[0]?.serviceAccountToken?.audience).toBe('mesh.example');
  });

  it('backs off exponentially with jitter between half and all of the capped delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, random) => {
        const ceiling = Math.min(30_000, 500 * 2 ** attempt);
        const delay = watchRetryDelay(attempt, { baseMs: 500, maxMs: 30_000 }, () => random);
        return delay >= Math.floor(ceiling / 2) && delay <= ceiling;
      }),
    );
    expect([0, 1, 2, 6, 7].map((a) => watchRetryDelay(a, { baseMs: 500, maxMs: 30_000 }, () => 1))).toEqual([500, 1000, 2000, 30_000, 30_000]);
  });
});
