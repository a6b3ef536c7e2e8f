// The live endpoints of every service, fed by the sidecars' discovery streams.
import type { Endpoint } from '@tsmesh/proto';

export interface RegisteredEndpoint {
  nodeId: string;
  address: string;
  identity: string;
  labels: Record<string, string>;
}

type Listener = (serviceKey: string) => void;

export class EndpointRegistry {
  private readonly services = new Map<string, Map<string, RegisteredEndpoint>>();
  private readonly listeners = new Set<Listener>();

  // A service stays known after its last endpoint leaves, so callers get "no endpoints"
  // rather than "no route" while it restarts.
  upsert(serviceKey: string, endpoint: RegisteredEndpoint): void {
    let endpoints = this.services.get(serviceKey);
    if (!endpoints) {
      endpoints = new Map();
      this.services.set(serviceKey, endpoints);
    }
    endpoints.set(endpoint.nodeId, endpoint);
    this.emit(serviceKey);
  }

  remove(serviceKey: string, nodeId: string): void {
    const endpoints = this.services.get(serviceKey);
    if (endpoints?.delete(nodeId)) this.emit(serviceKey);
  }

  // undefined: the service is not known at all.
  endpoints(serviceKey: string): Endpoint[] | undefined {
    const endpoints = this.services.get(serviceKey);
    if (!endpoints) return undefined;
    return [...endpoints.values()]
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
      .map((e) => ({ address: e.address, identity: e.identity, node_id: e.nodeId, labels: e.labels }));
  }

  serviceKeys(): string[] {
    return [...this.services.keys()].sort();
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(serviceKey: string): void {
    for (const listener of this.listeners) listener(serviceKey);
  }
}
