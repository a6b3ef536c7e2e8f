// The live endpoints of every service, fed by the sidecars' discovery streams, and which service owns each app address.
import type { Endpoint } from '@tsmesh/proto';

// How an app port speaks, as a Kubernetes Service port's appProtocol says; '' means detect it from the first bytes.
export type AppProtocol = '' | 'http' | 'http2' | 'grpc' | 'tcp';

export interface WorkloadPort {
  // ip:port where apps reach the workload directly (pod IP and container port), redirected to its caller's sidecar.
  address: string;
  protocol: AppProtocol;
}

export interface RegisteredEndpoint {
  nodeId: string;
  // host:port of the endpoint sidecar's inbound mTLS listener.
  address: string;
  identity: string;
  labels: Record<string, string>;
  workloadPorts?: WorkloadPort[];
}

export interface AddressOwner {
  serviceKey: string;
  protocol: AppProtocol;
}

// Called with a service key ("name.namespace") or a workload address ("ip:port") whose answer changed.
type Listener = (key: string) => void;

export class EndpointRegistry {
  private readonly services = new Map<string, Map<string, RegisteredEndpoint>>();
  // address -> nodeId -> owner: two registrations of one address (a restart overlapping) resolve to the newest.
  private readonly addresses = new Map<string, Map<string, AddressOwner>>();
  private readonly listeners = new Set<Listener>();

  // A service stays known after its last endpoint leaves, so callers get "no endpoints"
  // rather than "no route" while it restarts.
  upsert(serviceKey: string, endpoint: RegisteredEndpoint): void {
    let endpoints = this.services.get(serviceKey);
    if (!endpoints) {
      endpoints = new Map();
      this.services.set(serviceKey, endpoints);
    }
    const previous = endpoints.get(endpoint.nodeId);
    endpoints.set(endpoint.nodeId, endpoint);
    const touched = new Set<string>();
    for (const port of previous?.workloadPorts ?? []) {
      this.addresses.get(port.address)?.delete(endpoint.nodeId);
      touched.add(port.address);
    }
    for (const port of endpoint.workloadPorts ?? []) {
      let owners = this.addresses.get(port.address);
      if (!owners) {
        owners = new Map();
        this.addresses.set(port.address, owners);
      }
      owners.set(endpoint.nodeId, { serviceKey, protocol: port.protocol });
      touched.add(port.address);
    }
    this.emit(serviceKey);
    for (const address of touched) this.emit(address);
  }

  remove(serviceKey: string, nodeId: string): void {
    const endpoints = this.services.get(serviceKey);
    const endpoint = endpoints?.get(nodeId);
    if (!endpoints || !endpoint) return;
    endpoints.delete(nodeId);
    this.emit(serviceKey);
    for (const port of endpoint.workloadPorts ?? []) {
      const owners = this.addresses.get(port.address);
      owners?.delete(nodeId);
      if (owners?.size === 0) this.addresses.delete(port.address);
      this.emit(port.address);
    }
  }

  // undefined: the service is not known at all.
  endpoints(serviceKey: string): Endpoint[] | undefined {
    const endpoints = this.services.get(serviceKey);
    if (!endpoints) return undefined;
    return [...endpoints.values()]
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
      .map((e) => ({ address: e.address, identity: e.identity, node_id: e.nodeId, labels: e.labels }));
  }

  // The service whose workload serves this ip:port; undefined: no mesh workload does (the caller goes direct).
  byAddress(address: string): AddressOwner | undefined {
    const owners = this.addresses.get(address);
    if (!owners || owners.size === 0) return undefined;
    return [...owners.values()].at(-1);
  }

  serviceKeys(): string[] {
    return [...this.services.keys()].sort();
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(key: string): void {
    for (const listener of this.listeners) listener(key);
  }
}
