// What the outbound side needs from discovery: the live endpoints of a named service.
import type { AppProtocol, Result } from '@tsmesh/proto';
import type { CancelSignal } from '../pipeline/cancellation.js';

export type { AppProtocol } from '@tsmesh/proto';

export interface ServiceName {
  name: string;
  namespace: string;
}

export interface ServiceEndpoint {
  // host:port of the endpoint sidecar's inbound mTLS listener.
  readonly address: string;
  // The SPIFFE ID that endpoint must present; anything else is refused.
  readonly identity: string;
  readonly nodeId: string;
}

export type ResolveFailure =
  // The control plane does not know the service at all.
  | { kind: 'unknown-service'; message: string }
  // The service exists but has no live endpoint.
  | { kind: 'no-endpoints'; message: string }
  // No answer from discovery in time (e.g. first lookup while the control plane is down).
  | { kind: 'unavailable'; message: string };

// The mesh service behind a workload address "ip:port", as the control plane knows it.
export interface AddressOwner {
  service: ServiceName;
  protocol: AppProtocol;
  // A service's virtual address (ClusterIP): the port its workloads serve it on; null: the dialled port.
  targetPort: number | null;
  // A pod's own address: the endpoint (node id) the caller must reach; null: any endpoint of the service.
  nodeId: string | null;
}

// Transparent interception: which service (if any) an intercepted connection was headed for.
export interface AddressResolver {
  // ok(null): no mesh workload serves the address, so the connection goes out as it was dialled.
  resolveAddress(address: string, signal?: CancelSignal): Promise<Result<AddressOwner | null, ResolveFailure>>;
}

export interface EndpointResolver {
  resolve(service: ServiceName, signal?: CancelSignal): Promise<Result<ServiceEndpoint[], ResolveFailure>>;
  // The answer without waiting, when it is already known (the hot path); undefined otherwise.
  resolveKnown?(service: ServiceName): Result<ServiceEndpoint[], ResolveFailure> | undefined;
}

// A request asks for its service's key about ten times (routes, destination, endpoints, metrics), and the
// services it names are long-lived objects (the target layer's parses, a route's backends): one string each.
const serviceKeys = new WeakMap<ServiceName, string>();

export function serviceKey(service: ServiceName): string {
  let key = serviceKeys.get(service);
  if (key === undefined) {
    key = `${service.name}.${service.namespace}`;
    serviceKeys.set(service, key);
  }
  return key;
}
