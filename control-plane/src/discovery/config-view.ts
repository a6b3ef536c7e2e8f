// What each sidecar is told of the mesh resources: its own inbound policy, and the routes of what it calls.
import type { InboundPolicy, ServiceRoutes } from '@tsmesh/proto';
import type { ConfigStore, StoredResource } from '../store/index.js';

export interface ConfigView {
  inboundPolicy(service: string, namespace: string): InboundPolicy;
  serviceRoutes(service: string, namespace: string): ServiceRoutes;
  onChange(listener: () => void): () => void;
}

// Where the resources come from: the embedded store, or the custom resources of a Kubernetes cluster.
// The view neither knows nor cares which; every source fires onChange on each add, update and delete.
export interface ResourceSource {
  get(kind: string, namespace: string, name: string): StoredResource | undefined;
  // Sorted by key, so a version computed from the list is stable.
  list(kind?: string, namespace?: string): StoredResource[];
  onChange(listener: () => void): () => void;
}

export function storeResources(store: ConfigStore): ResourceSource {
  return {
    get: (kind, namespace, name) => store.get(kind, namespace, name),
    list: (kind, namespace) => store.list(kind, namespace),
    onChange: (listener) => store.onCommit(() => listener()),
  };
}

// Source-only fields are left out so that a version changes only when what the sidecar enforces does.
function strip(resource: StoredResource): StoredResource {
  const { resourceVersion: _rv, generation: _g, creationTimestamp: _c, uid: _u, ...metadata } = resource.metadata;
  return { apiVersion: resource.apiVersion, kind: resource.kind, metadata, spec: resource.spec };
}

function specService(resource: StoredResource): string | undefined {
  return (resource.spec as { service?: string } | undefined)?.service;
}

export function createConfigView(source: ResourceSource): ConfigView {
  return {
    inboundPolicy(service, namespace) {
      const meshConfig = source.get('MeshConfig', '', 'default');
      return {
        service,
        namespace,
        meshConfig: meshConfig ? (strip(meshConfig) as never) : null,
        // A policy without a service protects every service in its namespace.
        authorizationPolicies: source.list('AuthorizationPolicy', namespace).filter((p) => (specService(p) ?? service) === service).map(strip) as never,
        rateLimitPolicy: (source.list('RateLimitPolicy', namespace).filter((p) => specService(p) === service).map(strip)[0] ?? null) as never,
      };
    },
    serviceRoutes(service, namespace) {
      return {
        service,
        namespace,
        httpRoutes: source.list('HTTPRoute', namespace).filter((r) => specService(r) === service).map(strip) as never,
        destinationPolicy: (source.list('DestinationPolicy', namespace).filter((p) => specService(p) === service).map(strip)[0] ?? null) as never,
      };
    },
    onChange(listener) {
      return source.onChange(listener);
    },
  };
}
