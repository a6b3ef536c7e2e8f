// Two sidecars wired for a test: outbound(A) -> inbound(B) -> app B, all on 127.0.0.1 with real mTLS.
import type { ServiceEndpoint } from '../../src/discovery/endpoint-resolver.js';
import { MutableTlsMaterialSource, type TlsMaterial } from '../../src/identity/tls-material.js';
import { startInboundListener } from '../../src/inbound/listener.js';
import { startOutboundListener } from '../../src/outbound/listener.js';
import type { InboundPolicy } from '@tsmesh/proto';
import { captureLogger, staticResolver, type Cleanup, type LogRecord } from './mesh.js';

export const TRUST_DOMAIN = 'cluster.local';

export interface PairOptions {
  cleanup: Cleanup;
  clientTls: TlsMaterial;
  serverTls: TlsMaterial;
  appPort: number;
  // The identity the caller expects from the server; defaults to the server's own.
  expectedIdentity?: string;
  // Extra resolver rows besides orders.shop.
  extra?: Record<string, ServiceEndpoint[]>;
  defaultTimeoutMs?: number;
  headTimeoutMs?: number;
  // The inbound policy as the control plane would push it; default: no policies (allow-authenticated).
  policy?: InboundPolicy;
  // ALPN offers, to stand in for a sidecar of an older version (['h2']); default: tsmesh/1 and h2.
  clientPeerProtocols?: readonly string[];
  serverPeerProtocols?: readonly string[];
}

export interface Pair {
  outboundPort: number;
  inboundPort: number;
  clientSource: MutableTlsMaterialSource;
  serverSource: MutableTlsMaterialSource;
  inboundLogs: LogRecord[];
  // Replace to simulate a push from the control plane.
  setPolicy(policy: InboundPolicy | undefined): void;
}

export function openPolicy(): InboundPolicy {
  return { service: 'orders', namespace: 'shop', meshConfig: null, authorizationPolicies: [], rateLimitPolicy: null };
}

export async function startPair(options: PairOptions): Promise<Pair> {
  const serverSource = new MutableTlsMaterialSource(options.serverTls);
  const clientSource = new MutableTlsMaterialSource(options.clientTls);
  const inboundLogger = captureLogger();
  let policy: InboundPolicy | undefined = options.policy ?? openPolicy();
  const inbound = await startInboundListener({
    host: '127.0.0.1',
    port: 0,
    appHost: '127.0.0.1',
    appPort: options.appPort,
    tls: serverSource,
    trustDomain: TRUST_DOMAIN,
    policies: { current: () => policy },
    ...(options.serverPeerProtocols ? { peerProtocols: options.serverPeerProtocols } : {}),
    logger: inboundLogger,
  });
  options.cleanup.add(() => inbound.close());
  const endpoint: ServiceEndpoint = {
    address: `127.0.0.1:${inbound.address.port}`,
    identity: options.expectedIdentity ?? options.serverTls.spiffeId,
    nodeId: 'node-b',
  };
  const outbound = await startOutboundListener({
    host: '127.0.0.1',
    port: 0,
    localNamespace: 'shop',
    resolver: staticResolver({ 'orders.shop': [endpoint], ...options.extra }),
    tls: clientSource,
    defaultTimeoutMs: options.defaultTimeoutMs,
    headTimeoutMs: options.headTimeoutMs,
    ...(options.clientPeerProtocols ? { peerProtocols: options.clientPeerProtocols } : {}),
    logger: captureLogger(),
  });
  options.cleanup.add(() => outbound.close());
  return { outboundPort: outbound.address.port, inboundPort: inbound.address.port, clientSource, serverSource, inboundLogs: inboundLogger.records, setPolicy: (next) => (policy = next) };
}

export function peerSessions(logs: LogRecord[]): LogRecord[] {
  return logs.filter((record) => record.message === 'peer connection opened');
}
