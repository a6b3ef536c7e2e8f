// What each sidecar is told of the stored configuration: its own inbound policy, and the routes of what it calls.
import type { InboundPolicy, ServiceRoutes } from '@tsmesh/proto';
import type { ConfigStore, StoredResource } from '../store/index.js';

export interface ConfigView {
  inboundPolicy(service: string, namespace: string): InboundPolicy;
  serviceRoutes(service: string, namespace: string): ServiceRoutes;
  onChange(listener: () => void): () => void;
}

// Store-only fields are left out so that a version changes only when what the sidecar enforces does.
function strip(resource: StoredResource): StoredResource {
  const { resourceVersion: _rv, generation: _g, creationTimestamp: _c, uid: _u, ...metadata } = resource.metadata;
  return { apiVersion: resource.apiVersion, kind: resource.kind, metadata, spec: resource.spec };
}

function specService(resource: StoredResource): string | undefined {
  return (resource.spec as { service?: string } | undefined)?.service;
}

export function createConfigView(store: ConfigStore): ConfigView {
  return {
    inboundPolicy(service, namespace) {
      const meshConfig = store.get('MeshConfig', '', 'default');
      return {
        service,
        namespace,
        meshConfig: meshConfig ? (strip(meshConfig) as never) : null,
        // A policy without a service protects every service in its namespace.
        authorizationPolicies: store.list('AuthorizationPolicy', namespace).filter((p) => (specService(p) ?? service) === service).map(strip) as never,
        rateLimitPolicy: (store.list('RateLimitPolicy', namespace).filter((p) => specService(p) === service).map(strip)[0] ?? null) as never,
      };
    },
    serviceRoutes(service, namespace) {
      return {
        service,
        namespace,
        httpRoutes: store.list('HTTPRoute', namespace).filter((r) => specService(r) === service).map(strip) as never,
        destinationPolicy: (store.list('DestinationPolicy', namespace).filter((p) => specService(p) === service).map(strip)[0] ?? null) as never,
      };
    },
    onChange(listener) {
      return store.onCommit(() => listener());
    },
  };
}
