// From EndpointSlices and Pods to registry endpoints: which pods count, under which node id, identity and ports.
import { isIP } from 'node:net';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { formatSpiffeId } from '@tsmesh/proto';
import type { AppProtocol, RegisteredEndpoint, WorkloadPort } from '../discovery/registry.js';
import { portProtocol } from './app-protocol.js';
import { CONTAINER_NAMES, PORTS } from './sidecar-spec.js';

// The label Kubernetes puts on every slice a Service's controller manages.
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface MeshPod {
  nodeId: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
}

export interface SlicePort {
  // The Service port's name, which the slice copies: how a Service's named targetPort finds its number.
  name: string;
  port: number;
  protocol: AppProtocol;
}

export interface SliceEndpoint {
  nodeId: string;
  address: string;
  ready: boolean;
}

export interface SliceFacts {
  serviceKey: string;
  addressType: string;
  endpoints: SliceEndpoint[];
  ports: SlicePort[];
}

// The injected sidecar names itself so (sidecar-spec.ts sets MESH_NODE_ID the same way): one pod, one node id,
// whether it registered over its discovery stream or was seen in an EndpointSlice.
export function podNodeId(namespace: string, pod: string): string {
  return `${pod}.${namespace}`;
}

// Only pods with the injected sidecar are mesh endpoints: anything else has no inbound mTLS port to dial.
export function meshPod(pod: V1Pod): MeshPod | undefined {
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  if (!name || !namespace) return undefined;
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (!containers.some((c) => c.name === CONTAINER_NAMES.sidecar)) return undefined;
  return { nodeId: podNodeId(namespace, name), namespace, serviceAccount: pod.spec?.serviceAccountName || 'default', labels: { ...(pod.metadata?.labels ?? {}) } };
}

// undefined: not a Service's slice, or one of FQDN addresses, which name no pod.
export function sliceFacts(slice: V1EndpointSlice): SliceFacts | undefined {
  const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  const namespace = slice.metadata?.namespace;
  if (!service || !namespace || slice.addressType === 'FQDN') return undefined;
  const endpoints: SliceEndpoint[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    const ref = endpoint.targetRef;
    const address = endpoint.addresses[0];
    if (ref?.kind !== 'Pod' || !ref.name || !address || isIP(address) === 0) continue;
    // Unset means unknown, which consumers are to treat as ready; a terminating endpoint is never ready.
    const ready = endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true;
    endpoints.push({ nodeId: podNodeId(ref.namespace || namespace, ref.name), address, ready });
  }
  // The sidecar proxies TCP only; a port without a number means "all ports" and names none.
  // The rule the Service's ClusterIP follows too (service-address-model.ts): a pod dialled directly speaks as via its Service.
  const ports = (slice.ports ?? []).filter((p) => typeof p.port === 'number' && (p.protocol ?? 'TCP') === 'TCP').map((p) => ({ name: p.name ?? '', port: p.port as number, protocol: portProtocol(p) }));
  return { serviceKey: `${service}.${namespace}`, addressType: slice.addressType, endpoints, ports };
}

export function hostPort(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

// Every ready mesh pod of one service, merged across its slices (a dual-stack Service has one per address family).
export function desiredEndpoints(slices: Iterable<SliceFacts>, pods: ReadonlyMap<string, MeshPod>, trustDomain: string): Map<string, RegisteredEndpoint> {
  const desired = new Map<string, RegisteredEndpoint>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints) {
      const pod = pods.get(endpoint.nodeId);
      if (!endpoint.ready || !pod) continue;
      const ports: WorkloadPort[] = slice.ports.map((p) => ({ address: hostPort(endpoint.address, p.port), protocol: p.protocol }));
      const seen = desired.get(endpoint.nodeId);
      if (seen) {
        const known = new Set(seen.workloadPorts?.map((p) => p.address));
        seen.workloadPorts = [...(seen.workloadPorts ?? []), ...ports.filter((p) => !known.has(p.address))];
        continue;
      }
      desired.set(endpoint.nodeId, {
        nodeId: endpoint.nodeId,
        address: hostPort(endpoint.address, PORTS.inbound),
        identity: formatSpiffeId({ trustDomain, namespace: pod.namespace, serviceAccount: pod.serviceAccount }),
        labels: pod.labels,
        workloadPorts: ports,
      });
    }
  }
  return desired;
}
