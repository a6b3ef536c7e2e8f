// The control plane process: one TLS gRPC port serving identity, discovery and admin.
import * as grpc from '@grpc/grpc-js';
import { meshProtos, formatSpiffeId, createLogger, type Logger } from '@tsmesh/proto';
import { loadCertificateAuthority, MESH_SYSTEM_NAMESPACE, type CertificateAuthority } from './ca/index.js';
import { JoinTokens } from './tokens/index.js';
import { createIdentityHandlers, MemoryCertificateProvider } from './identity/index.js';
import { createDiscoveryHandlers } from './discovery/server.js';
import { EndpointRegistry } from './discovery/registry.js';
import { ProxyTracker } from './discovery/proxy-tracker.js';
import { createAdminHandlers } from './admin/service.js';
import { startStreamServer } from './tap/stream-server.js';
import { ConfigStore } from './store/index.js';
import { createConfigView, storeResources } from './discovery/config-view.js';
import type { KubernetesMode, KubernetesModeOptions } from './k8s/in-cluster.js';
import { kubernetesAdminHandlers } from './k8s/admin-kubernetes.js';
import { ControlPlaneObservability } from './observability/index.js';
import type { TraceStore, TraceStoreOptions } from './observability/trace-store.js';
import { join } from 'node:path';

export const CONTROL_PLANE_SA = 'mesh-control-plane';

export interface ControlPlaneOptions {
  dataDir: string;
  listen: string;
  workloadCertTtlMs?: number;
  maxWorkloadCertTtlMs?: number;
  // Extra names for the serving certificate (a Service DNS name in Kubernetes).
  servingDnsNames?: string[];
  debounceMs?: number;
  logger?: Logger;
  // The plain-HTTP port for /metrics, /ready, OTLP trace intake and the trace pages (default 127.0.0.1:0).
  httpListen?: string;
  // Bound instead when httpListen is in use: for a default port, so two control planes on one host both start.
  httpListenFallback?: string;
  // Also export the control plane's own spans to this OTLP/HTTP collector.
  otlpEndpoint?: string;
  traceStore?: TraceStoreOptions;
  // mTLS WebSockets for meshctl tap/top/stat and the sidecars' streams (default 127.0.0.1:0).
  streamListen?: string;
  // Bound instead when streamListen is in use (default port only, as for httpListenFallback).
  streamListenFallback?: string;
  // Kubernetes mode: resources from custom resources, endpoints from EndpointSlices, sidecars' service-account
  // tokens checked with TokenReview, and the trust bundle published to injected namespaces.
  kubernetes?: KubernetesModeOptions;
}

export interface RunningControlPlane {
  address: string;
  ca: CertificateAuthority;
  store: ConfigStore;
  registry: EndpointRegistry;
  tracker: ProxyTracker;
  // HOST:PORT of the HTTP port, and the OTLP/HTTP traces URL on it for sidecars.
  httpAddress: string;
  otlpEndpoint: string;
  traces: TraceStore;
  streamAddress: string;
  // Present in Kubernetes mode.
  kubernetes: KubernetesMode | undefined;
  stop(): Promise<void>;
}

const SERVING_CERT_TTL_MS = 24 * 3600_000;

export function controlPlaneSpiffeId(trustDomain: string): string {
  return formatSpiffeId({ trustDomain, namespace: MESH_SYSTEM_NAMESPACE, serviceAccount: CONTROL_PLANE_SA });
}

export async function startControlPlaneServer(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const logger = options.logger ?? createLogger('control-plane');
  const ca = await loadCertificateAuthority(options.dataDir, {
    ...(options.workloadCertTtlMs ? { defaultWorkloadTtlMs: options.workloadCertTtlMs } : {}),
    ...(options.maxWorkloadCertTtlMs ? { maxWorkloadTtlMs: options.maxWorkloadCertTtlMs } : {}),
    logger,
  });
  const tokens = await JoinTokens.open(options.dataDir);
  const store = await ConfigStore.open(join(options.dataDir, 'store'), { logger: logger.child('store') });
  if (store.recovery.truncatedBytes > 0) logger.warn('the config store cut a torn tail after a crash', { ...store.recovery });
  const registry = new EndpointRegistry();
  let draining = false;
  // Loaded only in Kubernetes mode: the client library takes about a second to import.
  const inCluster = options.kubernetes;
  const kubernetes: KubernetesMode | undefined = inCluster
    ? await import('./k8s/in-cluster.js').then((m) => m.startKubernetesMode(inCluster, { registry, trustDomain: ca.trustDomain, trustBundle: () => ca.trustBundle().join(''), logger: logger.child('kubernetes') }))
    : undefined;
  const configView = createConfigView(kubernetes?.resources ?? storeResources(store));
  const tracker = new ProxyTracker();
  const spiffeId = controlPlaneSpiffeId(ca.trustDomain);
  const observability = new ControlPlaneObservability({ spiffeId, otlpEndpoint: options.otlpEndpoint, traceStore: options.traceStore, logger: logger.child('observability') });
  observability.watch(store, { connectedSidecars: () => tracker.list().length, certificatesIssued: () => ca.certificatesIssued });

  const provider = new MemoryCertificateProvider();
  const renewServingCertificate = async (): Promise<void> => {
    const serving = await ca.issueServingCertificate({ spiffeId, dnsNames: options.servingDnsNames ?? [], ttlMs: SERVING_CERT_TTL_MS });
    provider.update({ caPem: ca.trustBundle().join(''), certPem: serving.certChainPem.join(''), keyPem: serving.keyPem });
  };
  await renewServingCertificate();
  // The serving certificate is renewed at half its life, like every workload's.
  const renewTimer = setInterval(() => {
    renewServingCertificate().catch((error: unknown) => logger.error('could not renew the serving certificate', { error: (error as Error).message }));
  }, SERVING_CERT_TTL_MS / 2);
  renewTimer.unref();

  const server = new grpc.Server({ 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000, 'grpc.keepalive_permit_without_calls': 1 });
  const protos = meshProtos();
  server.addService(protos.identity.tsmesh.identity.v1.Identity.service, createIdentityHandlers({ ca, tokens, trustDomain: ca.trustDomain, logger: logger.child('identity'), ...(kubernetes ? { serviceAccountTokens: kubernetes.tokenReviewer } : {}) }));
  server.addService(protos.discovery.tsmesh.discovery.v1.AggregatedDiscovery.service, createDiscoveryHandlers({ registry, tracker, trustDomain: ca.trustDomain, trustBundle: () => ca.trustBundle(), config: configView, logger: logger.child('discovery'), debounceMs: options.debounceMs ?? 100, observer: observability.pushes, draining: () => draining }));
  const admin = createAdminHandlers({ trustDomain: ca.trustDomain, tokens, tracker, store, config: configView, registry, logger: logger.child('admin') });
  server.addService(protos.admin.tsmesh.admin.v1.Admin.service, kubernetes ? kubernetesAdminHandlers(admin, kubernetes.resources, ca.trustDomain) : admin);

  // Client certificates are requested but optional: a sidecar bootstraps with a token before it has one.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(options.listen, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  const http = await observability.serveHttp(options.httpListen ?? '127.0.0.1:0', options.httpListenFallback).catch((error: unknown) => {
    clearInterval(renewTimer);
    server.forceShutdown();
    return Promise.allSettled([observability.stop(), store.close(), kubernetes?.stop()]).then(() => Promise.reject(error instanceof Error ? error : new Error(String(error))));
  });
  const streamOptions = { ca, spiffeId, servingDnsNames: options.servingDnsNames ?? [], logger: logger.child('stream') };
  const stream = await startStreamServer({ ...streamOptions, listen: options.streamListen ?? '127.0.0.1:0' })
    .catch((error: unknown) => {
      if (options.streamListenFallback && (error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        logger.warn('stream port in use; using another', { wanted: options.streamListen, fallback: options.streamListenFallback });
        return startStreamServer({ ...streamOptions, listen: options.streamListenFallback });
      }
      throw error;
    })
    .catch((error: unknown) => {
      clearInterval(renewTimer);
      server.forceShutdown();
      return Promise.allSettled([observability.stop(), store.close(), kubernetes?.stop()]).then(() => Promise.reject(error instanceof Error ? error : new Error(String(error))));
    });
  logger.info('control plane listening', { address, httpAddress: http.address, streamAddress: stream.address, trustDomain: ca.trustDomain, spiffeId });
  return {
    address,
    ca,
    store,
    registry,
    tracker,
    httpAddress: http.address,
    otlpEndpoint: http.otlpEndpoint,
    traces: observability.traces,
    streamAddress: stream.address,
    kubernetes,
    stop: () =>
      new Promise<void>((resolve) => {
        draining = true;
        clearInterval(renewTimer);
        const closeStore = (): Promise<void> => Promise.all([observability.stop(), stream.close(), kubernetes?.stop()]).then(() => store.close());
        server.tryShutdown(() => void closeStore().then(resolve, resolve));
        // Open discovery streams never end on their own; cut them after a short grace.
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}
