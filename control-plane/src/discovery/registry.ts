// The live endpoints of every service, fed by the sidecars' discovery streams, and which service owns each app address.
import type { AppProtocol, Endpoint } from '@tsmesh/proto';

export type { AppProtocol } from '@tsmesh/proto';

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
  // A workload's own address: the endpoint that serves it, so a caller reaches that pod and no other.
  nodeId?: string;
  // For a service's virtual address: the port its workloads serve it on; absent: the dialled port.
  targetPort?: number;
}

// A service's virtual address (a Kubernetes ClusterIP and Service port), and where it leads.
export interface ServiceAddress {
  address: string;
  protocol: AppProtocol;
  targetPort: number;
}

// Called with a service key ("name.namespace") or a workload address ("ip:port") whose answer changed.
type Listener = (key: string) => void;

export class EndpointRegistry {
  private readonly services = new Map<string, Map<string, RegisteredEndpoint>>();
  // address -> "serviceKey|nodeId" -> owner: two registrations of one address (a restart overlapping, or one
  // pod behind two services) resolve to the newest, and removing one leaves the other.
  private readonly addresses = new Map<string, Map<string, AddressOwner>>();
  private readonly listeners = new Set<Listener>();
  // serviceKey -> its virtual addresses; a workload's own address wins over a virtual one.
  private readonly serviceAddresses = new Map<string, ServiceAddress[]>();
  private readonly virtual = new Map<string, AddressOwner>();

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
      this.addresses.get(port.address)?.delete(`${serviceKey}|${endpoint.nodeId}`);
      touched.add(port.address);
    }
    for (const port of endpoint.workloadPorts ?? []) {
      let owners = this.addresses.get(port.address);
      if (!owners) {
        owners = new Map();
        this.addresses.set(port.address, owners);
      }
      owners.set(`${serviceKey}|${endpoint.nodeId}`, { serviceKey, protocol: port.protocol, nodeId: endpoint.nodeId });
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
      owners?.delete(`${serviceKey}|${nodeId}`);
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

  // The service whose workload serves this ip:port, or whose virtual address it is; undefined: neither (the caller goes direct).
  byAddress(address: string): AddressOwner | undefined {
    const owners = this.addresses.get(address);
    if (!owners || owners.size === 0) return this.virtual.get(address);
    return [...owners.values()].at(-1);
  }

  // Replaces a service's virtual addresses (an empty list removes them).
  setServiceAddresses(serviceKey: string, addresses: ServiceAddress[]): void {
    const touched = new Set<string>();
    for (const old of this.serviceAddresses.get(serviceKey) ?? []) {
      if (this.virtual.get(old.address)?.serviceKey === serviceKey) this.virtual.delete(old.address);
      touched.add(old.address);
    }
    if (addresses.length > 0) this.serviceAddresses.set(serviceKey, addresses);
    else this.serviceAddresses.delete(serviceKey);
    for (const entry of addresses) {
      this.virtual.set(entry.address, { serviceKey, protocol: entry.protocol, targetPort: entry.targetPort });
      touched.add(entry.address);
    }
    for (const address of touched) this.emit(address);
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
