// The sidecar's settings from flags and MESH_* environment variables, validated once.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId, isAppProtocol, isValidName, isValidTrustDomain, parseDuration, ok, err, type AppProtocol, type Result } from '@tsmesh/proto';

export interface SidecarConfig {
  service: string;
  namespace: string;
  serviceAccount: string;
  trustDomain: string;
  spiffeId: string;
  nodeId: string;
  controlPlaneAddress: string;
  // The control plane's stream server (tap, stats); undefined when turned off.
  controlPlaneStreamAddress: string | undefined;
  controlPlaneIdentity: string;
  controlPlaneCaPem: string;
  // A join token, or the pod's service-account token (--kubernetes-token-file): the control plane tells them
  // apart by the join token's prefix and checks the other with the Kubernetes TokenReview API.
  joinToken: string;
  // Absent for a client-only sidecar (nothing calls in).
  appPort: number | undefined;
  appHost: string;
  bindHost: string;
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  advertiseAddress: string | undefined;
  defaultTimeoutMs: number;
  certTtlMs: number;
  maxInFlight: number;
  maxEventLoopDelayMs: number;
  otlp: { protocol: 'http/protobuf' | 'grpc'; endpoint: string } | undefined;
  traceSamplingPercent: number;
  accessLog: 'stderr' | { path: string } | undefined;
  // Read each outbound connection's original destination (iptables REDIRECT); false: explicit mode only.
  transparent: boolean;
  // The address other workloads dial this one's app ports at (the pod IP), and those ports.
  podIp: string | undefined;
  appPorts: AppPortConfig[];
  // How long to wait for a client's first bytes before treating a connection as opaque TCP.
  protocolDetectTimeoutMs: number;
  // What this sidecar offers other sidecars by ALPN: auto = tsmesh/1, then HTTP/2; h2 = HTTP/2 only.
  peerTransport: 'auto' | 'h2';
}

export interface AppPortConfig {
  port: number;
  // '' = detect from the first bytes.
  protocol: AppProtocol;
}

export const SIDECAR_USAGE = `mesh-sidecar: the tsmesh proxy that runs beside one service instance.

Usage: mesh-sidecar run [options]      (every option also reads MESH_<NAME>, e.g. MESH_SERVICE)

Identity and control plane:
  --service NAME             the service this sidecar fronts (DNS-1123 label)        [required]
  --namespace NS             its namespace                                          [default: default]
  --service-account SA       the identity it runs as                                [default: --service]
  --trust-domain TD          SPIFFE trust domain                                    [default: ${DEFAULT_TRUST_DOMAIN}]
  --control-plane HOST:PORT  the control plane's gRPC address                       [default: 127.0.0.1:15012]
  --control-plane-stream H:P the control plane's tap/stats stream server, or "off"  [default: --control-plane host, port 15015]
  --ca-file FILE             the mesh root certificate(s) to trust the control plane with   [required]
  --token TOKEN              join token from 'meshctl token create'  (or --token-file FILE) [required]
  --kubernetes-token-file F  in Kubernetes, instead of a join token: the pod's projected service-account
                             token (audience tsmesh), checked by the control plane with TokenReview
  --node-id ID               unique name of this instance                           [default: <service>-<random>]
  --cert-ttl DURATION        ask for certificates of this lifetime (e.g. 24h, 30s)  [default: the CA's]

Listeners:
  --app-port PORT            the application's port on --app-host; omit for a client-only sidecar
  --app-host HOST            where the application listens                          [default: 127.0.0.1]
  --bind HOST                address the sidecar's listeners bind                   [default: 127.0.0.1]
  --inbound-port PORT        mTLS listener for other sidecars (0 = any free port)   [default: 15006]
  --outbound-port PORT       plain HTTP listener for the app (HTTP_PROXY)           [default: 15001]
  --admin-port PORT          /ready /live /certs /config_dump                       [default: 15000]
  --advertise-address H:P    the inbound address other sidecars dial                [default: --bind:inbound port]
  --default-timeout DURATION request timeout until routes set one                  [default: 15s]

Transparent interception (after 'mesh-sidecar iptables install'):
  --transparent              read each redirected connection's original destination (needs the
                             SO_ORIGINAL_DST addon: node sidecar/native/build.mjs); without it the
                             sidecar says why and stays in explicit mode
  --pod-ip IP                the address other workloads dial this one at           [default: --advertise-address host]
  --app-ports P[/PROTO],...  ports the app serves, PROTO one of http, http2, grpc, tcp; none = detect
                             from the first bytes (e.g. 8080/http,9090/grpc,5432/tcp) [default: --app-port]
  --protocol-detect-timeout D  wait this long for a client's first bytes, then proxy as TCP [default: 500ms]
  --peer-transport auto|h2   between sidecars: auto = tsmesh/1 where the peer has it, else HTTP/2;
                             h2 = HTTP/2 only, on both ports (a fallback)              [default: auto]

Overload and telemetry:
  --max-inflight N           shed inbound requests (503) beyond this many in flight [default: 10000]
  --max-event-loop-delay D   shed while the event loop lags more than this          [default: 1s]
                             (p99 of two 0.5 s intervals in a row: one pause sheds nothing)
  --otlp-endpoint URL|off    export spans with OTLP (e.g. http://127.0.0.1:4318/v1/traces, or
                             127.0.0.1:4317 with --otlp-protocol grpc); default: the control
                             plane's embedded trace store when it is on this host, else nothing
  --otlp-protocol P          http/protobuf or grpc                                  [default: http/protobuf]
  --trace-sampling PERCENT   share of new traces sampled; a sampled caller is always followed [default: 1]
  --access-log stderr|FILE   a JSON line per request (off by default)
`;

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;
export const DEFAULT_STREAM_PORT = 15015;

function parsePort(value: string | undefined, flag: string, fallback: number | undefined): Result<number | undefined, string> {
  if (value === undefined || value === '') return ok(fallback);
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return err(`${flag}: "${value}" is not a port number (0-65535)`);
  return ok(port);
}

// Without a collector, a control plane on this host keeps traces (meshctl traces). Its HTTP port is
// plain HTTP, so spans go there only over loopback; anywhere else, nothing is exported by default.
function embeddedCollector(controlPlaneAddress: string): SidecarConfig['otlp'] {
  const host = controlPlaneAddress.slice(0, controlPlaneAddress.lastIndexOf(':'));
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') return undefined;
  return { protocol: 'http/protobuf', endpoint: `http://${host}:15014/v1/traces` };
}

export function parseSidecarConfig(argv: string[], env: NodeJS.ProcessEnv): Result<SidecarConfig, string> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...Object.fromEntries(
          ['service', 'namespace', 'service-account', 'trust-domain', 'control-plane', 'control-plane-stream', 'ca-file', 'token', 'token-file', 'kubernetes-token-file', 'node-id', 'cert-ttl', 'app-port', 'app-host', 'bind', 'inbound-port', 'outbound-port', 'admin-port', 'advertise-address', 'default-timeout', 'max-inflight', 'max-event-loop-delay', 'otlp-endpoint', 'otlp-protocol', 'trace-sampling', 'access-log', 'pod-ip', 'app-ports', 'protocol-detect-timeout', 'peer-transport'].map((name) => [name, { type: 'string' as const }]),
        ),
        transparent: { type: 'boolean' as const },
      },
    });
  } catch (error) {
    return err(`${(error as Error).message}; see mesh-sidecar --help`);
  }
  const get = (name: string): string | undefined => (parsed.values as Record<string, string | undefined>)[name] ?? env[`MESH_${name.toUpperCase().replace(/-/g, '_')}`];
  const service = get('service');
  if (!service) return err('--service is required (the name of the service this sidecar fronts)');
  const namespace = get('namespace') ?? 'default';
  const serviceAccount = get('service-account') ?? service;
  const trustDomain = get('trust-domain') ?? DEFAULT_TRUST_DOMAIN;
  for (const [flag, value] of [['--service', service], ['--namespace', namespace], ['--service-account', serviceAccount]] as const) {
    if (!isValidName(value)) return err(`${flag}: "${value}" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)`);
  }
  if (!isValidTrustDomain(trustDomain)) return err(`--trust-domain: "${trustDomain}" is not a valid trust domain`);
  const caFile = get('ca-file');
  if (!caFile) return err('--ca-file is required: the mesh root certificate (e.g. <data-dir>/ca/trust-bundle.pem)');
  let controlPlaneCaPem: string;
  try {
    controlPlaneCaPem = readFileSync(caFile, 'utf8');
  } catch (error) {
    return err(`--ca-file: cannot read ${caFile}: ${(error as Error).message}`);
  }
  let joinToken = get('token');
  const tokenFile = get('token-file');
  if (!joinToken && tokenFile) {
    try {
      joinToken = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      return err(`--token-file: cannot read ${tokenFile}: ${(error as Error).message}`);
    }
  }
  const kubernetesTokenFile = get('kubernetes-token-file');
  if (kubernetesTokenFile && joinToken) return err('--kubernetes-token-file and --token/--token-file are two ways to bootstrap; give only one');
  if (kubernetesTokenFile) {
    try {
      joinToken = readFileSync(kubernetesTokenFile, 'utf8').trim();
    } catch (error) {
      return err(`--kubernetes-token-file: cannot read ${kubernetesTokenFile}: ${(error as Error).message} (the injector mounts the pod's projected service-account token there)`);
    }
    if (!joinToken) return err(`--kubernetes-token-file: ${kubernetesTokenFile} is empty; it must hold the pod's projected service-account token`);
  }
  if (!joinToken) return err(`--token (or --token-file) is required: mint one with 'meshctl token create --namespace ${namespace} --service-account ${serviceAccount}' (in Kubernetes, give --kubernetes-token-file instead)`);
  const ports: Record<string, number | undefined> = {};
  for (const [flag, fallback] of [['app-port', undefined], ['inbound-port', 15006], ['outbound-port', 15001], ['admin-port', 15000]] as const) {
    const port = parsePort(get(flag), `--${flag}`, fallback);
    if (!port.ok) return port;
    ports[flag] = port.value;
  }
  const timeout = parseDuration(get('default-timeout') ?? '15s', '--default-timeout');
  if (!timeout.ok) return timeout;
  const certTtl = parseDuration(get('cert-ttl') ?? '0s', '--cert-ttl');
  if (!certTtl.ok) return certTtl;
  const advertise = get('advertise-address');
  if (advertise !== undefined && !HOST_PORT.test(advertise)) {
    return err(`--advertise-address: "${advertise}" must be host:port`);
  }
  const maxInFlight = Number(get('max-inflight') ?? '10000');
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) return err(`--max-inflight: "${get('max-inflight')}" must be a whole number >= 1`);
  const loopDelay = parseDuration(get('max-event-loop-delay') ?? '1s', '--max-event-loop-delay');
  if (!loopDelay.ok) return loopDelay;
  const otlpProtocol = get('otlp-protocol') ?? 'http/protobuf';
  if (otlpProtocol !== 'http/protobuf' && otlpProtocol !== 'grpc') return err(`--otlp-protocol: "${otlpProtocol}" must be http/protobuf or grpc`);
  const otlpEndpoint = get('otlp-endpoint');
  const sampling = Number(get('trace-sampling') ?? '1');
  if (!Number.isFinite(sampling) || sampling < 0 || sampling > 100) return err(`--trace-sampling: "${get('trace-sampling')}" must be a percentage between 0 and 100`);
  const accessLog = get('access-log');
  const controlPlaneAddress = get('control-plane') ?? '127.0.0.1:15012';
  const givenStream = get('control-plane-stream');
  if (givenStream !== undefined && givenStream !== 'off' && !HOST_PORT.test(givenStream)) return err(`--control-plane-stream: "${givenStream}" must be host:port or off`);
  // A gRPC target that is not plain host:port (dns:///..., unix:) gives no host to derive from; tap is then off, not an error.
  const derivedStream = `${controlPlaneAddress.replace(/^dns:\/\/\//, '').replace(/:\d+$/, '')}:${DEFAULT_STREAM_PORT}`;
  const stream = givenStream ?? (HOST_PORT.test(derivedStream) ? derivedStream : 'off');
  const transparentFlag = (parsed.values as Record<string, unknown>)['transparent'] === true || /^(1|true|yes)$/i.test(env['MESH_TRANSPARENT'] ?? '');
  const appPorts = parseAppPorts(get('app-ports'), ports['app-port']);
  if (!appPorts.ok) return appPorts;
  const advertisedHost = advertise?.slice(0, advertise.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  const podIp = get('pod-ip') ?? (advertisedHost !== undefined && isIP(advertisedHost) !== 0 ? advertisedHost : undefined);
  if (podIp !== undefined && isIP(podIp) === 0) return err(`--pod-ip: "${podIp}" is not an IP address`);
  if (transparentFlag && appPorts.value.length > 0 && podIp === undefined) return err('--transparent with app ports needs --pod-ip (or an --advertise-address with an IP): callers find this workload by that address');
  const detectTimeout = parseDuration(get('protocol-detect-timeout') ?? '500ms', '--protocol-detect-timeout');
  if (!detectTimeout.ok) return detectTimeout;
  const peerTransport = get('peer-transport') ?? 'auto';
  if (peerTransport !== 'auto' && peerTransport !== 'h2') return err(`--peer-transport: "${peerTransport}" must be auto or h2`);
  const spiffeId = formatSpiffeId({ trustDomain, namespace, serviceAccount });
  return ok({
    service,
    namespace,
    serviceAccount,
    trustDomain,
    spiffeId,
    nodeId: get('node-id') ?? `${service}-${Math.random().toString(36).slice(2, 8)}`,
    controlPlaneAddress,
    controlPlaneStreamAddress: stream === 'off' ? undefined : stream,
    controlPlaneIdentity: formatSpiffeId({ trustDomain, namespace: 'mesh-system', serviceAccount: 'mesh-control-plane' }),
    controlPlaneCaPem,
    joinToken,
    appPort: ports['app-port'],
    appHost: get('app-host') ?? '127.0.0.1',
    bindHost: get('bind') ?? '127.0.0.1',
    inboundPort: ports['inbound-port'] ?? 15006,
    outboundPort: ports['outbound-port'] ?? 15001,
    adminPort: ports['admin-port'] ?? 15000,
    advertiseAddress: advertise,
    defaultTimeoutMs: timeout.value,
    certTtlMs: certTtl.value,
    maxInFlight,
    maxEventLoopDelayMs: loopDelay.value,
    otlp: otlpEndpoint === 'off' ? undefined : otlpEndpoint ? { protocol: otlpProtocol, endpoint: otlpEndpoint } : embeddedCollector(controlPlaneAddress),
    traceSamplingPercent: sampling,
    accessLog: accessLog === undefined ? undefined : accessLog === 'stderr' ? 'stderr' : { path: accessLog },
    transparent: transparentFlag,
    podIp,
    appPorts: appPorts.value,
    peerTransport,
    protocolDetectTimeoutMs: detectTimeout.value,
  });
}

// "8080,9090/grpc"; --app-port is served too, detected unless listed with a protocol.
function parseAppPorts(text: string | undefined, appPort: number | undefined): Result<AppPortConfig[], string> {
  const ports = new Map<number, AppPortConfig>();
  if (appPort !== undefined && appPort > 0) ports.set(appPort, { port: appPort, protocol: '' });
  for (const item of (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const [portText = '', protocol = '', extra] = item.split('/');
    const port = Number(portText);
    if (extra !== undefined || !/^\d+$/.test(portText) || port < 1 || port > 65535) return err(`--app-ports: "${item}" is not PORT or PORT/PROTOCOL (e.g. 9090/grpc)`);
    if (!isAppProtocol(protocol)) return err(`--app-ports: protocol "${protocol}" of port ${port} is not one of http, http2, grpc, tcp`);
    ports.set(port, { port, protocol });
  }
  return ok([...ports.values()].sort((a, b) => a.port - b.port));
}
