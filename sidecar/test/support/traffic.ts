// Test harness for traffic management: real upstream sidecars with programmable apps, and a caller with routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_VERSION, type DestinationPolicySpec, type HTTPRouteSpec, type InboundPolicy, type KeyPair, type ServiceRoutes } from '@tsmesh/proto';
import type { ServiceEndpoint, ServiceName } from '../../src/discovery/endpoint-resolver.js';
import { MutableTlsMaterialSource } from '../../src/identity/tls-material.js';
import { startInboundListener } from '../../src/inbound/listener.js';
import { startOutboundListener } from '../../src/outbound/listener.js';
import { captureLogger, staticResolver, startApp, type Cleanup, type LogRecord } from './mesh.js';
import { issueWorkload, type TestCa } from './pki.js';
import type { Telemetry } from '../../src/telemetry/telemetry.js';
import { attemptTelemetryLayer, outboundTelemetryLayer } from '../../src/telemetry/layers.js';

export type AppBehaviour = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

export interface Upstream {
  endpoint: ServiceEndpoint;
  hits(): number;
  // Requests the app saw aborted by the proxy (timeouts, cancels).
  aborted(): number;
  behave(next: AppBehaviour): void;
  setPolicy(policy: InboundPolicy): void;
  // What the upstream's inbound listener logged.
  logs: LogRecord[];
}

export const ok: AppBehaviour = (_req, res) => res.end('ok');
export const status = (code: number): AppBehaviour => (_req, res) => {
  res.statusCode = code;
  res.end(`status ${code}`);
};
export const hang: AppBehaviour = () => undefined;

export function openInboundPolicy(service: string): InboundPolicy {
  return { service, namespace: 'shop', meshConfig: null, authorizationPolicies: [], rateLimitPolicy: null };
}

export async function startUpstream(cleanup: Cleanup, ca: TestCa, keys: KeyPair, service: string, behaviour: AppBehaviour = ok, options: { maxInFlight?: number } = {}): Promise<Upstream> {
  let hits = 0;
  let aborted = 0;
  let current = behaviour;
  const app = await startApp(cleanup, (req, res) => {
    hits++;
    req.once('close', () => {
      if (!res.writableFinished) aborted++;
    });
    // Drain the body first so request bodies never stall the app.
    req.resume();
    req.once('end', () => current(req, res, hits));
  });
  const spiffeId = `spiffe://cluster.local/ns/shop/sa/${service}`;
  let policy: InboundPolicy = openInboundPolicy(service);
  const logger = captureLogger();
  const inbound = await startInboundListener({
    host: '127.0.0.1',
    port: 0,
    appHost: '127.0.0.1',
    appPort: app.port,
    tls: new MutableTlsMaterialSource(issueWorkload(ca, keys, spiffeId)),
    trustDomain: 'cluster.local',
    policies: { current: () => policy },
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    logger,
  });
  cleanup.add(() => inbound.close());
  return {
    logs: logger.records,
    endpoint: { address: `127.0.0.1:${inbound.address.port}`, identity: spiffeId, nodeId: `${service}-${inbound.address.port}` },
    hits: () => hits,
    aborted: () => aborted,
    behave: (next) => (current = next),
    setPolicy: (next) => (policy = next),
  };
}

export interface Caller {
  port: number;
  // What the caller's outbound listener logged.
  logs: LogRecord[];
  setRoutes(service: string, routes: HTTPRouteSpec[], destinationPolicy?: DestinationPolicySpec): void;
  setEndpoints(service: string, endpoints: ServiceEndpoint[]): void;
}

export async function startCaller(cleanup: Cleanup, ca: TestCa, keys: KeyPair, endpoints: Record<string, ServiceEndpoint[]>, options: { defaultTimeoutMs?: number; telemetry?: Telemetry } = {}): Promise<Caller> {
  const table: Record<string, ServiceEndpoint[]> = { ...endpoints };
  const routes = new Map<string, ServiceRoutes>();
  const logger = captureLogger();
  const outbound = await startOutboundListener({
    host: '127.0.0.1',
    port: 0,
    localNamespace: 'shop',
    resolver: staticResolver(table),
    routes: {
      routes: (service: ServiceName) => routes.get(`${service.name}.${service.namespace}`),
    },
    tls: new MutableTlsMaterialSource(issueWorkload(ca, keys, 'spiffe://cluster.local/ns/shop/sa/caller')),
    ...(options.defaultTimeoutMs ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
    ...(options.telemetry ? { requestObserver: outboundTelemetryLayer(options.telemetry), attemptObserver: attemptTelemetryLayer(options.telemetry) } : {}),
    logger,
  });
  cleanup.add(() => outbound.close());
  return {
    port: outbound.address.port,
    logs: logger.records,
    setRoutes(service, specs, destinationPolicy) {
      routes.set(`${service}.shop`, {
        service,
        namespace: 'shop',
        httpRoutes: specs.map((spec, i) => ({ apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: `${service}-${i}`, namespace: 'shop' }, spec })),
        destinationPolicy: destinationPolicy ? { apiVersion: API_VERSION, kind: 'DestinationPolicy', metadata: { name: service, namespace: 'shop' }, spec: destinationPolicy } : null,
      });
    },
    setEndpoints(service, list) {
      table[`${service}.shop`] = list;
    },
  };
}
