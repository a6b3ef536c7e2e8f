// Starts one sidecar: identity first, then the discovery stream, then the listeners, then readiness.
import { TYPE_URLS, createLogger, splitPemBundle, type Logger } from '@tsmesh/proto';
import type { SidecarConfig } from './config.js';
import { ALPN_MUX } from './transport/mux/frames.js';
import { requestCertificate } from './identity/identity-client.js';
import { CertificateRotator } from './identity/rotation.js';
import { MutableTlsMaterialSource } from './identity/tls-material.js';
import { DiscoveryClient } from './discovery/client.js';
import { Backoff } from './discovery/backoff.js';
import { startInboundListener } from './inbound/listener.js';
import { startOutboundListener } from './outbound/listener.js';
import { startAdminServer } from './admin/server.js';
import { createTelemetry, type Telemetry } from './telemetry/telemetry.js';
import { LATENCY_BUCKETS_SECONDS, METRICS_CONTENT_TYPE } from './telemetry/metrics.js';
import { attemptTelemetryLayer, inboundTelemetryLayer, outboundTelemetryLayer } from './telemetry/layers.js';
import type { Destinations } from './outbound/destinations.js';
import { TapSink } from './tap/sink.js';
import { ControlPlaneStream } from './tap/stream-client.js';
import { loadOriginalDst, type OriginalDstReader } from './intercept/original-dst.js';

export interface RunningSidecar {
  inboundPort: number | undefined;
  outboundPort: number;
  adminPort: number;
  tls: MutableTlsMaterialSource;
  discovery: DiscoveryClient;
  telemetry: Telemetry;
  tap: TapSink;
  stop(): Promise<void>;
  // SIGTERM: report not ready, GOAWAY inbound peers and let in-flight requests finish (bounded), then stop.
  drain(graceMs: number): Promise<void>;
}

export class BootstrapError extends Error {
  readonly code = 'MESH_ERR_BOOTSTRAP';
}

// Token refusals are final; anything else (control plane not up yet) is worth retrying.
function isFatalBootstrapError(message: string): boolean {
  return /UNAUTHENTICATED|PERMISSION_DENIED|INVALID_ARGUMENT/.test(message);
}

export async function startSidecar(config: SidecarConfig, logger: Logger = createLogger(`sidecar.${config.service}`)): Promise<RunningSidecar> {
  // Filled in as start-up proceeds; the admin endpoint reports readiness from it meanwhile.
  const parts: { draining?: boolean; inboundDrain?: (graceMs: number) => Promise<void>; tls?: MutableTlsMaterialSource; discovery?: DiscoveryClient; rotator?: CertificateRotator; destinations?: Destinations; stream?: ControlPlaneStream } = {};
  const closers: Array<() => Promise<void>> = [];
  const telemetry = await createTelemetry({
    service: { name: config.service, namespace: config.namespace },
    spiffeId: config.spiffeId,
    instanceId: config.nodeId,
    tracing: { exporter: config.otlp, samplingPercent: config.traceSamplingPercent },
    accessLog: config.accessLog ? { destination: config.accessLog } : undefined,
  });
  closers.push(() => telemetry.close());
  const tap = new TapSink({ localService: telemetry.localService });
  const stop = async (): Promise<void> => {
    parts.rotator?.stop();
    parts.discovery?.stop();
    parts.stream?.stop();
    for (const close of closers.reverse()) await close();
  };

  const admin = await startAdminServer(config.bindHost, config.adminPort, {
    tls: () => parts.tls,
    rotations: () => parts.rotator?.rotations ?? 0,
    ready: () => {
      if (parts.draining) return { ready: false, reason: 'draining: shutting down' };
      if (!parts.tls) return { ready: false, reason: 'waiting for a workload certificate' };
      if (!parts.discovery?.hasApplied(TYPE_URLS.trustBundle)) return { ready: false, reason: 'waiting for the first config from the control plane' };
      if (config.appPort !== undefined && !parts.discovery.hasApplied(TYPE_URLS.inboundPolicy)) return { ready: false, reason: 'waiting for the inbound policy from the control plane' };
      return { ready: true, reason: 'ready' };
    },
    configDump: () => ({ node: { id: config.nodeId, service: config.service, namespace: config.namespace, spiffeId: config.spiffeId }, discovery: parts.discovery?.snapshot() }),
    metrics: () => ({ contentType: METRICS_CONTENT_TYPE, body: telemetry.metrics.render() }),
    stats: () => ({ destinations: parts.destinations?.snapshot() ?? {} }),
  });
  closers.push(() => admin.close());

  const bootstrapBackoff = new Backoff({ baseMs: 250, maxMs: 5_000 });
  let tls: MutableTlsMaterialSource;
  for (;;) {
    const result = await requestCertificate({
      controlPlaneAddress: config.controlPlaneAddress,
      controlPlaneIdentity: config.controlPlaneIdentity,
      spiffeId: config.spiffeId,
      trustBundlePem: splitPemBundle(config.controlPlaneCaPem),
      joinToken: config.joinToken,
      requestedTtlMs: config.certTtlMs,
    });
    if (result.ok) {
      tls = new MutableTlsMaterialSource(result.value);
      parts.tls = tls;
      telemetry.metrics.certificateExpiry(result.value.notAfter);
      tls.onChange((material) => telemetry.metrics.certificateExpiry(material.notAfter));
      logger.info('workload certificate issued', { spiffeId: config.spiffeId, notAfter: result.value.notAfter.toISOString() });
      break;
    }
    if (isFatalBootstrapError(result.error)) {
      await stop();
      throw new BootstrapError(`cannot bootstrap identity ${config.spiffeId}: ${result.error}`);
    }
    const delay = bootstrapBackoff.next();
    logger.warn('control plane not reachable for bootstrap; retrying', { error: result.error, retryInMs: delay });
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  const rotator = new CertificateRotator(tls, {
    controlPlaneAddress: config.controlPlaneAddress,
    controlPlaneIdentity: config.controlPlaneIdentity,
    spiffeId: config.spiffeId,
    requestedTtlMs: config.certTtlMs,
    logger: logger.child('identity'),
  });
  parts.rotator = rotator;
  rotator.start();

  // The inbound listener reads policy from discovery, which is created first and started after.
  const policies = { current: () => parts.discovery?.inboundPolicy() };
  let inboundPort: number | undefined;
  if (config.appPort !== undefined) {
    const inbound = await startInboundListener({
      host: config.bindHost,
      port: config.inboundPort,
      appHost: config.appHost,
      appPort: config.appPort,
      appPorts: config.appPorts.map((p) => p.port),
      tls,
      trustDomain: config.trustDomain,
      policies,
      maxInFlight: config.maxInFlight,
      maxEventLoopDelayMs: config.maxEventLoopDelayMs,
      peerProtocols: peerProtocols(config.peerTransport),
      observer: inboundTelemetryLayer(telemetry, tap),
      events: {
        rateLimited: () => telemetry.metrics.rateLimitedFor('inbound'),
        shed: () => telemetry.metrics.loadShedOne(),
        handshake: (result) => telemetry.metrics.tlsHandshake('inbound', result),
      },
      logger: logger.child('inbound'),
    });
    inboundPort = inbound.address.port;
    closers.push(() => inbound.close());
    if (inbound.drain) parts.inboundDrain = (graceMs) => inbound.drain!(graceMs);
  }
  const discovery = new DiscoveryClient({
    controlPlaneAddress: config.controlPlaneAddress,
    controlPlaneIdentity: config.controlPlaneIdentity,
    trustDomain: config.trustDomain,
    tls,
    logger: logger.child('discovery'),
    onTrustBundle: (roots) => rotator.updateTrustBundle(roots),
    node: {
      id: config.nodeId,
      service: config.service,
      namespace: config.namespace,
      inbound_address: inboundPort === undefined ? '' : (config.advertiseAddress ?? `${config.bindHost}:${inboundPort}`),
      sidecar_version: '0.1.0',
      ...(inboundPort !== undefined && config.podIp !== undefined ? { pod_ip: config.podIp, app_ports: config.appPorts } : {}),
    },
  });
  parts.discovery = discovery;
  // MeshConfig's sampling rate, when set, wins over the flag; removing it goes back to the flag.
  discovery.onInboundPolicy((policy) => {
    telemetry.tracing.setSamplingPercent(policy?.meshConfig?.spec.tracing?.samplingPercent ?? config.traceSamplingPercent);
  });
  discovery.start();
  const originalDst = config.transparent ? transparentReader(logger) : undefined;
  const outbound = await startOutboundListener({
    host: config.bindHost,
    port: config.outboundPort,
    localNamespace: config.namespace,
    resolver: discovery,
    routes: discovery,
    tls,
    defaultTimeoutMs: config.defaultTimeoutMs,
    peerProtocols: peerProtocols(config.peerTransport),
    ...(originalDst ? { transparent: { originalDst, addresses: discovery, detectTimeoutMs: config.protocolDetectTimeoutMs, onPassthrough: () => telemetry.metrics.passthroughOne() } } : {}),
    requestObserver: outboundTelemetryLayer(telemetry, tap),
    attemptObserver: attemptTelemetryLayer(telemetry),
    onHandshake: (result) => telemetry.metrics.tlsHandshake('outbound', result),
    events: {
      retry: (destination) => telemetry.metrics.retry(destination),
      budgetExhausted: (destination) => telemetry.metrics.retryBudgetExhaustedFor(destination),
      poolOverflow: (destination) => telemetry.metrics.poolSaturatedFor(destination),
      ejection: (destination) => telemetry.metrics.outlierEjected(destination),
      circuitState: (destination, state) => telemetry.metrics.circuitState(destination, state),
    },
    logger: logger.child('outbound'),
  });
  parts.destinations = outbound.destinations;
  closers.push(() => outbound.close());
  // Last, and never awaited: tap and stats are for operators, and traffic must not wait for them.
  if (config.controlPlaneStreamAddress !== undefined) {
    const stream = new ControlPlaneStream({
      address: config.controlPlaneStreamAddress,
      controlPlaneIdentity: config.controlPlaneIdentity,
      tls,
      node: { nodeId: config.nodeId, service: config.service, namespace: config.namespace },
      sink: tap,
      stats: () => ({ bounds: LATENCY_BUCKETS_SECONDS, series: telemetry.metrics.requestSnapshot() }),
      logger: logger.child('stream'),
    });
    parts.stream = stream;
    stream.start();
  }
  const drain = async (graceMs: number): Promise<void> => {
    parts.draining = true;
    // Outbound keeps serving meanwhile: the app may still be finishing requests that call out.
    await parts.inboundDrain?.(graceMs);
    await stop();
  };
  return { inboundPort, outboundPort: outbound.address.port, adminPort: admin.port, tls, discovery, telemetry, tap, stop, drain };
}

// --transparent without the addon must not stop the sidecar: it says why and serves explicit mode.
function transparentReader(logger: Logger): OriginalDstReader | undefined {
  const loaded = loadOriginalDst();
  if (loaded.ok) {
    logger.info('transparent mode: reading original destinations with SO_ORIGINAL_DST');
    return loaded.value;
  }
  logger.warn(`${loaded.error}; falling back to explicit mode (HTTP_PROXY or Host form only)`);
  return undefined;
}

function peerProtocols(transport: SidecarConfig['peerTransport']): readonly string[] {
  return transport === 'h2' ? ['h2'] : [ALPN_MUX, 'h2'];
}
