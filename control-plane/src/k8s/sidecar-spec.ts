// What injection adds to a pod: the iptables init container, the native sidecar, and their volumes.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IVolume } from 'kubernetes-models/v1/Volume';

export const LABELS = {
  // Namespace label (webhook namespaceSelector) and pod label or annotation ("false" opts out).
  inject: 'tsmesh.dev/inject',
} as const;

export const ANNOTATIONS = {
  inject: 'tsmesh.dev/inject',
  // The service name, when neither app.kubernetes.io/name nor app labels say it.
  service: 'tsmesh.dev/service',
  // The application's port, when its first container declares none or another one.
  appPort: 'tsmesh.dev/app-port',
} as const;

export const CONTAINER_NAMES = { init: 'tsmesh-init', sidecar: 'tsmesh-sidecar' } as const;
export const VOLUME_NAMES = { token: 'tsmesh-token', ca: 'tsmesh-ca' } as const;

export const PORTS = { admin: 15000, outbound: 15001, inbound: 15006 } as const;
export const PROXY_UID = 1337;
export const TOKEN_AUDIENCE = 'tsmesh';
const TOKEN_DIR = '/var/run/secrets/tsmesh/token';
const CA_DIR = '/var/run/secrets/tsmesh/ca';
export const CA_BUNDLE_KEY = 'trust-bundle.pem';
const SIDECAR_MEMORY_LIMIT_MI = 256;
const SIDECAR_OLD_SPACE_MB = 192;
// Old space is capped below the container's 256Mi limit, so V8 collects harder before the kernel would kill
// the sidecar (with the cap, the peak RSS under load fell 170 -> 89 MB). The young generation was 1 MB
// until the data plane left node:http2; since then scavenges are a quarter of the sidecars' CPU, and 4 MB
// takes ~25 % off the pair's CPU per request for 2-7 MB more peak RSS (bench/README.md, "Node flags").
// The benchmark runs its sidecars with these too.
export const SIDECAR_NODE_OPTIONS = `--max-semi-space-size=4 --max-old-space-size=${SIDECAR_OLD_SPACE_MB}`;

export interface InjectOptions {
  sidecarImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  controlPlaneAddress: string;
  // ConfigMap in the pod's namespace holding the mesh root under CA_BUNDLE_KEY.
  caConfigMap: string;
  otlpEndpoint: string | undefined;
  traceSamplingPercent: number | undefined;
  // Outbound connections to these CIDRs bypass the sidecar (e.g. the API server).
  excludeOutboundCidrs: string[];
  // The projected token's audience: what the control plane's TokenReview asks for (serve --token-audience).
  tokenAudience: string;
}

export const DEFAULT_INJECT_OPTIONS: InjectOptions = {
  sidecarImage: 'tsmesh/sidecar:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controlPlaneAddress: 'mesh-control-plane.mesh-system.svc:15012',
  caConfigMap: 'tsmesh-ca-root',
  otlpEndpoint: undefined,
  traceSamplingPercent: undefined,
  excludeOutboundCidrs: [],
  tokenAudience: TOKEN_AUDIENCE,
};

// Where the sidecar learns its service name: a downward-API reference to the first key the pod has.
export type ServiceSource = { from: 'annotation' | 'label'; key: string };

export interface PodFacts {
  service: ServiceSource;
  appPort: number | undefined;
  // Every TCP port the app containers declare, as --app-ports takes them ("8080/http,9090/grpc,5432").
  appPorts: string;
}

const fieldRef = (name: string, fieldPath: string): IEnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

// The command line of the interception issue's init step; it must stay an argument list (no shell in the image).
export function iptablesArgs(options: InjectOptions): string[] {
  const args = ['iptables', 'install', '--proxy-uid', String(PROXY_UID), '--outbound-port', String(PORTS.outbound), '--inbound-port', String(PORTS.inbound), '--exclude-inbound-ports', String(PORTS.admin)];
  if (options.excludeOutboundCidrs.length > 0) args.push('--exclude-outbound-cidrs', options.excludeOutboundCidrs.join(','));
  return args;
}

export function initContainer(options: InjectOptions): IContainer {
  return {
    name: CONTAINER_NAMES.init,
    image: options.sidecarImage,
    imagePullPolicy: options.imagePullPolicy,
    command: ['mesh-sidecar'],
    args: iptablesArgs(options),
    // Root with NET_ADMIN/NET_RAW only for the rules; the root filesystem stays writable for iptables' lock file.
    securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } },
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
  };
}

export function sidecarContainer(options: InjectOptions, facts: PodFacts): IContainer {
  const serviceField = facts.service.from === 'annotation' ? `metadata.annotations['${facts.service.key}']` : `metadata.labels['${facts.service.key}']`;
  const env: IEnvVar[] = [
    fieldRef('MESH_SERVICE', serviceField),
    fieldRef('MESH_NAMESPACE', 'metadata.namespace'),
    fieldRef('MESH_SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldRef('POD_NAME', 'metadata.name'),
    // <pod>.<namespace>, as the control plane names the pod it finds in an EndpointSlice (endpoint-model.ts podNodeId):
    // the sidecar's own registration then replaces that entry instead of adding a second one.
    { name: 'MESH_NODE_ID', value: '$(POD_NAME).$(MESH_NAMESPACE)' },
    fieldRef('POD_IP', 'status.podIP'),
    { name: 'MESH_ADVERTISE_ADDRESS', value: `$(POD_IP):${PORTS.inbound}` },
    // Other pods dial the inbound port and the kubelet probes the admin port, so loopback is not enough.
    { name: 'MESH_BIND', value: '0.0.0.0' },
    { name: 'MESH_CONTROL_PLANE', value: options.controlPlaneAddress },
    { name: 'MESH_CA_FILE', value: `${CA_DIR}/${CA_BUNDLE_KEY}` },
    // Checked by the control plane with TokenReview; the sidecar reads it afresh when it restarts.
    { name: 'MESH_KUBERNETES_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
    // The init container's rules redirect the app's connections here; the pod IP is how other pods find this one.
    { name: 'MESH_TRANSPARENT', value: 'true' },
    { name: 'MESH_POD_IP', value: '$(POD_IP)' },
    { name: 'NODE_OPTIONS', value: SIDECAR_NODE_OPTIONS },
  ];
  if (facts.appPorts !== '') env.push({ name: 'MESH_APP_PORTS', value: facts.appPorts });
  if (facts.appPort !== undefined) env.push({ name: 'MESH_APP_PORT', value: String(facts.appPort) });
  if (options.otlpEndpoint) env.push({ name: 'MESH_OTLP_ENDPOINT', value: options.otlpEndpoint });
  if (options.traceSamplingPercent !== undefined) env.push({ name: 'MESH_TRACE_SAMPLING', value: String(options.traceSamplingPercent) });
  const probe = (path: string, periodSeconds: number, failureThreshold: number): IContainer['readinessProbe'] => ({ httpGet: { path, port: PORTS.admin }, periodSeconds, failureThreshold, timeoutSeconds: 1 });
  return {
    name: CONTAINER_NAMES.sidecar,
    image: options.sidecarImage,
    imagePullPolicy: options.imagePullPolicy,
    command: ['mesh-sidecar'],
    args: ['run'],
    // A native sidecar: started before the app, stopped after it, and not waited for when a Job's work is done.
    restartPolicy: 'Always',
    env,
    ports: [
      { name: 'tsmesh-admin', containerPort: PORTS.admin, protocol: 'TCP' },
      { name: 'tsmesh-outbound', containerPort: PORTS.outbound, protocol: 'TCP' },
      { name: 'tsmesh-inbound', containerPort: PORTS.inbound, protocol: 'TCP' },
    ],
    // The kubelet starts the next container only once the startup probe passes: the app meets a sidecar with its certificate and config.
    startupProbe: probe('/ready', 1, 60),
    readinessProbe: probe('/ready', 5, 3),
    livenessProbe: probe('/live', 10, 3),
    // iptables exempts this uid, so the sidecar's own connections are not redirected back to itself.
    securityContext: { runAsUser: PROXY_UID, runAsGroup: PROXY_UID, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: `${SIDECAR_MEMORY_LIMIT_MI}Mi` } },
    volumeMounts: [
      { name: VOLUME_NAMES.token, mountPath: TOKEN_DIR, readOnly: true },
      { name: VOLUME_NAMES.ca, mountPath: CA_DIR, readOnly: true },
    ],
  };
}

export function sidecarVolumes(options: InjectOptions): IVolume[] {
  return [
    // Audience-bound and short-lived: it proves the pod's service account to the control plane (TokenReview) and nothing else.
    { name: VOLUME_NAMES.token, projected: { sources: [{ serviceAccountToken: { audience: options.tokenAudience, expirationSeconds: 3600, path: 'token' } }] } },
    { name: VOLUME_NAMES.ca, configMap: { name: options.caConfigMap, items: [{ key: CA_BUNDLE_KEY, path: CA_BUNDLE_KEY }] } },
  ];
}
