// Sidecar injection as a pure function: a Pod or a workload's pod template in, the injected copy (or why not) out.
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { err, ok, type Result } from '@tsmesh/proto';
import { portNameProtocol } from './app-protocol.js';
import { ANNOTATIONS, CONTAINER_NAMES, LABELS, VOLUME_NAMES, initContainer, sidecarContainer, sidecarVolumes, type InjectOptions, type PodFacts, type ServiceSource } from './sidecar-spec.js';

export type SkipReason = 'opted-out' | 'already-injected' | 'host-network' | 'not-a-workload';

export type InjectOutcome =
  | { injected: true; object: Record<string, unknown> }
  | { injected: false; reason: SkipReason; object: Record<string, unknown> };

type Meta = NonNullable<IPodTemplateSpec['metadata']>;

// Where each kind keeps the pod template that injection rewrites.
const TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const INJECTABLE_KINDS = Object.keys(TEMPLATE_PATHS);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optedOut(meta: Meta | undefined): boolean {
  return meta?.labels?.[LABELS.inject] === 'false' || meta?.annotations?.[ANNOTATIONS.inject] === 'false';
}

function serviceSource(meta: Meta | undefined): ServiceSource | undefined {
  if (meta?.annotations?.[ANNOTATIONS.service]) return { from: 'annotation', key: ANNOTATIONS.service };
  for (const key of ['app.kubernetes.io/name', 'app']) if (meta?.labels?.[key]) return { from: 'label', key };
  return undefined;
}

function appPort(template: IPodTemplateSpec): Result<number | undefined, string> {
  const declared = template.metadata?.annotations?.[ANNOTATIONS.appPort];
  if (declared !== undefined) {
    const port = Number(declared);
    return Number.isInteger(port) && port > 0 && port < 65536 ? ok(port) : err(`annotation ${ANNOTATIONS.appPort}: "${declared}" is not a port number`);
  }
  const port = template.spec?.containers[0]?.ports?.find((p) => (p.protocol ?? 'TCP') === 'TCP')?.containerPort;
  return ok(typeof port === 'number' ? port : undefined);
}

function appPorts(template: IPodTemplateSpec): string {
  const ports = new Map<number, string>();
  for (const container of template.spec?.containers ?? []) {
    for (const port of container.ports ?? []) {
      if ((port.protocol ?? 'TCP') !== 'TCP' || ports.has(port.containerPort)) continue;
      // Container ports have no appProtocol: the name alone says it (Istio's convention), else it is detected.
      ports.set(port.containerPort, portNameProtocol(port.name));
    }
  }
  return [...ports].map(([port, protocol]) => (protocol === '' ? String(port) : `${port}/${protocol}`)).join(',');
}

// Injects one pod template (a Pod is its own template). `outer` is the workload's own metadata, whose opt-out also counts.
export function injectTemplate(template: IPodTemplateSpec, options: InjectOptions, outer?: Meta): Result<{ injected: true; template: IPodTemplateSpec } | { injected: false; reason: SkipReason }, string> {
  const spec = template.spec;
  if (!spec || !Array.isArray(spec.containers)) return err('the pod template has no spec.containers');
  if (optedOut(template.metadata) || optedOut(outer)) return ok({ injected: false, reason: 'opted-out' });
  const names = [...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name);
  if (names.includes(CONTAINER_NAMES.sidecar)) return ok({ injected: false, reason: 'already-injected' });
  // iptables rules in a host-network pod would rewrite the node's traffic.
  if (spec.hostNetwork) return ok({ injected: false, reason: 'host-network' });
  const service = serviceSource(template.metadata);
  if (!service) return err(`cannot tell which service this pod is: give it the label app.kubernetes.io/name or app, or the annotation ${ANNOTATIONS.service}`);
  const port = appPort(template);
  if (!port.ok) return port;
  const facts: PodFacts = { service, appPort: port.value, appPorts: appPorts(template) };
  const taken = new Set((spec.volumes ?? []).map((v) => v.name));
  const clash = Object.values(VOLUME_NAMES).find((name) => taken.has(name));
  if (clash) return err(`the pod already has a volume named ${clash}`);
  const injected = structuredClone(template) as IPodTemplateSpec & { spec: typeof spec };
  const injectedSpec = injected.spec;
  // Before the pod's own init containers: with traffic redirected, they need the sidecar to reach anything.
  injectedSpec.initContainers = [initContainer(options), sidecarContainer(options, facts), ...(injectedSpec.initContainers ?? [])];
  injectedSpec.volumes = [...(injectedSpec.volumes ?? []), ...sidecarVolumes(options)];
  return ok({ injected: true, template: injected });
}

// Any Kubernetes object: workloads get their pod template injected, everything else passes through unchanged.
export function injectObject(object: Record<string, unknown>, options: InjectOptions): Result<InjectOutcome, string> {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const path = TEMPLATE_PATHS[kind];
  if (!path) return ok({ injected: false, reason: 'not-a-workload', object });
  let template: unknown = object;
  for (const key of path) template = isRecord(template) ? template[key] : undefined;
  if (!isRecord(template)) return err(`${kind} has no pod template at ${path.join('.')}`);
  const outer = path.length > 0 && isRecord(object['metadata']) ? (object['metadata'] as Meta) : undefined;
  const result = injectTemplate(template, options, outer);
  if (!result.ok) return result;
  if (!result.value.injected) return ok({ injected: false, reason: result.value.reason, object });
  if (path.length === 0) return ok({ injected: true, object: result.value.template as Record<string, unknown> });
  const copy = structuredClone(object);
  let parent: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  parent[path[path.length - 1] ?? 'template'] = result.value.template;
  return ok({ injected: true, object: copy });
}
