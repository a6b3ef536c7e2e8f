// From a Service and its EndpointSlices to the virtual addresses (ClusterIP:port) the registry answers for the service.
import { isIP } from 'node:net';
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ServiceAddress } from '../discovery/registry.js';
import { portProtocol } from './app-protocol.js';
import { hostPort, type SliceFacts } from './endpoint-model.js';

// Why a whole Service gets no virtual address. Not errors: most Services of a cluster are none of the mesh's business.
export type ServiceSkip = 'headless' | 'no-cluster-ip' | 'no-mesh-pods';

export interface ServiceAddressPlan {
  serviceKey: string;
  addresses: ServiceAddress[];
  skipped?: ServiceSkip;
  // Ports left out of a mesh Service, each a sentence naming the field and the reason.
  problems: string[];
}

const isPort = (value: number): boolean => Number.isInteger(value) && value >= 1 && value <= 65535;

// "<service>.<namespace>", as endpoints and routes key services; undefined for an object without both.
export function serviceKeyOf(service: V1Service): string | undefined {
  const name = service.metadata?.name;
  const namespace = service.metadata?.namespace;
  return name && namespace ? `${name}.${namespace}` : undefined;
}

// Port name -> every number the slices of mesh pods give it: one, when all those pods agree.
function namedPortNumbers(slices: readonly SliceFacts[], isMeshPod: (nodeId: string) => boolean): Map<string, Set<number>> {
  const numbers = new Map<string, Set<number>>();
  for (const slice of slices) {
    // Only where the sidecar will send the request matters; other pods may number the port as they like.
    if (!slice.endpoints.some((e) => isMeshPod(e.nodeId))) continue;
    for (const port of slice.ports) {
      const seen = numbers.get(port.name) ?? new Set<number>();
      seen.add(port.port);
      numbers.set(port.name, seen);
    }
  }
  return numbers;
}

type Target = { ok: true; port: number } | { ok: false; problem: string };

// The port on the pod: Kubernetes resolves a named targetPort per pod, and only the slices say to what.
function targetPort(port: V1ServicePort, field: string, named: ReadonlyMap<string, ReadonlySet<number>>): Target {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return isPort(target) ? { ok: true, port: target } : { ok: false, problem: `${field}.targetPort ${target} is not a port number (1-65535)` };
  const numbers = [...(named.get(port.name ?? '') ?? [])].sort((a, b) => a - b);
  const [only] = numbers;
  if (only === undefined) return { ok: false, problem: `${field}.targetPort "${target}" names a container port, and no EndpointSlice of a mesh pod gives it a number yet; left out until one does` };
  if (numbers.length > 1) return { ok: false, problem: `${field}.targetPort "${target}" is port ${numbers.join(' and ')} in different pods; one virtual address leads to one target port, so it is left out` };
  return { ok: true, port: only };
}

// Only Services whose slices name a pod with the injected sidecar: a call to any other goes out as dialled (Istio's
// passthrough), where indexing it would answer 503 for a service the mesh has no endpoint of.
export function serviceAddresses(service: V1Service, slices: readonly SliceFacts[], isMeshPod: (nodeId: string) => boolean): ServiceAddressPlan {
  const serviceKey = serviceKeyOf(service) ?? '';
  const spec = service.spec;
  const clusterIPs = spec?.clusterIPs?.length ? spec.clusterIPs : spec?.clusterIP ? [spec.clusterIP] : [];
  if (clusterIPs.includes('None')) return { serviceKey, addresses: [], skipped: 'headless', problems: [] };
  if (clusterIPs.every((ip) => ip === '')) return { serviceKey, addresses: [], skipped: 'no-cluster-ip', problems: [] };
  if (!slices.some((s) => s.endpoints.some((e) => isMeshPod(e.nodeId)))) return { serviceKey, addresses: [], skipped: 'no-mesh-pods', problems: [] };
  const problems: string[] = [];
  const ips = clusterIPs.filter((ip, i) => {
    if (isIP(ip) !== 0) return true;
    problems.push(`spec.clusterIPs[${i}] "${ip}" is not an IP address`);
    return false;
  });
  const named = namedPortNumbers(slices, isMeshPod);
  const addresses: ServiceAddress[] = [];
  (spec?.ports ?? []).forEach((port, i) => {
    // The sidecar intercepts TCP only; UDP and SCTP ports reach kube-proxy as before.
    if ((port.protocol ?? 'TCP') !== 'TCP') return;
    const field = `spec.ports[${i}]${port.name ? ` (${port.name})` : ''}`;
    if (!isPort(port.port)) {
      problems.push(`${field}.port ${String(port.port)} is not a port number (1-65535)`);
      return;
    }
    const target = targetPort(port, field, named);
    if (!target.ok) {
      problems.push(target.problem);
      return;
    }
    const protocol = portProtocol(port);
    for (const ip of ips) addresses.push({ address: hostPort(ip, port.port), protocol, targetPort: target.port });
  });
  return { serviceKey, addresses, problems };
}
