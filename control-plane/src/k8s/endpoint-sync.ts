// Keeps the endpoint registry equal to what EndpointSlices and Pods say, beside the sidecars' own registrations.
import type { CoreV1Api, DiscoveryV1Api, KubeConfig, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '@tsmesh/proto';
import type { EndpointRegistry, RegisteredEndpoint } from '../discovery/registry.js';
import { desiredEndpoints, meshPod, sliceFacts, type MeshPod, type SliceFacts } from './endpoint-model.js';
import { startWatch, type RetryBackoff, type RunningWatch } from './watch.js';

function objectKey(object: { metadata?: { namespace?: string; name?: string } }): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function sameEndpoint(a: RegisteredEndpoint, b: RegisteredEndpoint): boolean {
  return JSON.stringify([a.address, a.identity, a.labels, a.workloadPorts ?? []]) === JSON.stringify([b.address, b.identity, b.labels, b.workloadPorts ?? []]);
}

function labelsEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

// The slices are authoritative for the pods they name. A sidecar registering itself over its stream uses the
// same node id, so it overwrites the entry rather than adding one; and when its stream closes (it moved to
// another replica) the entry must stay while the slice says ready. So any change made by someone else to a
// service we hold is checked and, where it departs from the slices, put back.
export class EndpointSliceSync {
  private readonly slices = new Map<string, SliceFacts>();
  private readonly pods = new Map<string, MeshPod>();
  private readonly applied = new Map<string, Map<string, RegisteredEndpoint>>();
  private writing = false;
  private readonly unsubscribe: () => void;
  private readonly serviceListeners = new Set<(serviceKey: string) => void>();

  constructor(
    private readonly registry: EndpointRegistry,
    private readonly trustDomain: string,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = registry.onChange((key) => {
      if (!this.writing && this.applied.has(key)) queueMicrotask(() => this.reassert(key));
    });
  }

  upsertSlice(slice: V1EndpointSlice): void {
    const key = objectKey(slice);
    const before = this.slices.get(key);
    const facts = sliceFacts(slice);
    if (facts) this.slices.set(key, facts);
    else this.slices.delete(key);
    for (const serviceKey of new Set([before?.serviceKey, facts?.serviceKey])) if (serviceKey) this.reconcile(serviceKey);
  }

  removeSlice(slice: V1EndpointSlice): void {
    const key = objectKey(slice);
    const before = this.slices.get(key);
    this.slices.delete(key);
    if (before) this.reconcile(before.serviceKey);
  }

  upsertPod(pod: V1Pod): void {
    const facts = meshPod(pod);
    if (!facts) return;
    const before = this.pods.get(facts.nodeId);
    this.pods.set(facts.nodeId, facts);
    // Most pod updates (status, annotations) change nothing an endpoint carries.
    if (before && before.serviceAccount === facts.serviceAccount && labelsEqual(before.labels, facts.labels)) return;
    this.reconcilePod(facts.nodeId);
  }

  removePod(pod: V1Pod): void {
    const facts = meshPod(pod);
    if (facts && this.pods.delete(facts.nodeId)) this.reconcilePod(facts.nodeId);
  }

  close(): void {
    this.unsubscribe();
    this.serviceListeners.clear();
  }

  // Called after any change to a service's slices or to the mesh pods they name (service-address-sync.ts).
  onServiceChange(listener: (serviceKey: string) => void): () => void {
    this.serviceListeners.add(listener);
    return () => this.serviceListeners.delete(listener);
  }

  // IPv4 first: a dual-stack pod is dialled at its IPv4 address, whatever order the slices came in.
  slicesOf(serviceKey: string): SliceFacts[] {
    return [...this.slices.values()].filter((s) => s.serviceKey === serviceKey).sort((a, b) => a.addressType.localeCompare(b.addressType));
  }

  // A pod with the injected sidecar, as the Pod watch has seen it.
  isMeshPod(nodeId: string): boolean {
    return this.pods.has(nodeId);
  }

  private reconcilePod(nodeId: string): void {
    const services = new Set<string>();
    for (const slice of this.slices.values()) if (slice.endpoints.some((e) => e.nodeId === nodeId)) services.add(slice.serviceKey);
    for (const serviceKey of services) this.reconcile(serviceKey);
  }

  private reconcile(serviceKey: string): void {
    const slices = this.slicesOf(serviceKey);
    const desired = desiredEndpoints(slices, this.pods, this.trustDomain);
    const previous = this.applied.get(serviceKey) ?? new Map<string, RegisteredEndpoint>();
    let changed = false;
    this.write(() => {
      for (const nodeId of previous.keys()) {
        if (desired.has(nodeId)) continue;
        this.registry.remove(serviceKey, nodeId);
        changed = true;
      }
      for (const [nodeId, endpoint] of desired) {
        const before = previous.get(nodeId);
        if (before && sameEndpoint(before, endpoint)) continue;
        this.registry.upsert(serviceKey, endpoint);
        changed = true;
      }
    });
    if (slices.length === 0) this.applied.delete(serviceKey);
    else this.applied.set(serviceKey, desired);
    if (changed) this.logger.info('endpoints from EndpointSlices', { service: serviceKey, ready: [...desired.keys()].sort() });
    for (const listener of this.serviceListeners) listener(serviceKey);
  }

  // Puts back what another writer (a sidecar's stream) changed; a pod the slices call not ready is taken out
  // even while its sidecar is connected, and endpoints of anything not a known pod are left alone.
  private reassert(serviceKey: string): void {
    const desired = this.applied.get(serviceKey);
    if (!desired) return;
    const present = new Map((this.registry.endpoints(serviceKey) ?? []).map((e) => [e.node_id ?? '', { address: e.address ?? '', identity: e.identity ?? '', labels: e.labels ?? {} }]));
    this.write(() => {
      for (const [nodeId, endpoint] of desired) {
        const seen = present.get(nodeId);
        const portsLost = (endpoint.workloadPorts ?? []).some((p) => this.registry.byAddress(p.address) === undefined);
        if (!seen || seen.address !== endpoint.address || seen.identity !== endpoint.identity || !labelsEqual(seen.labels, endpoint.labels) || portsLost) {
          this.registry.upsert(serviceKey, endpoint);
        }
      }
      for (const nodeId of present.keys()) if (!desired.has(nodeId) && this.pods.has(nodeId)) this.registry.remove(serviceKey, nodeId);
    });
  }

  private write(changes: () => void): void {
    this.writing = true;
    try {
      changes();
    } finally {
      this.writing = false;
    }
  }
}

export interface EndpointWatchOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  discovery: DiscoveryV1Api;
  sync: EndpointSliceSync;
  logger: Logger;
  backoff?: RetryBackoff;
}

export function watchEndpoints(options: EndpointWatchOptions): RunningWatch[] {
  const { sync, kubeConfig, logger } = options;
  const backoff = options.backoff ? { backoff: options.backoff } : {};
  return [
    startWatch<V1Pod>(kubeConfig, { what: 'pods', path: '/api/v1/pods', list: () => options.core.listPodForAllNamespaces(), handlers: { upsert: (p) => sync.upsertPod(p), remove: (p) => sync.removePod(p) }, logger, ...backoff }),
    startWatch<V1EndpointSlice>(kubeConfig, {
      what: 'endpointslices.discovery.k8s.io',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => options.discovery.listEndpointSliceForAllNamespaces(),
      handlers: { upsert: (s) => sync.upsertSlice(s), remove: (s) => sync.removeSlice(s) },
      logger,
      ...backoff,
    }),
  ];
}
