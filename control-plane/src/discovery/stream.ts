// One sidecar's discovery stream: registration, subscriptions, pushes, and its ACK/NACK bookkeeping.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { TYPE_URLS, isAppProtocol, parseHostPort, parseSpiffeId, spiffeIdsFromSubjectAltName, isValidName, type DiscoveryRequest__Output, type DiscoveryResponse, type Resource, type Logger, type Node__Output } from '@tsmesh/proto';
import type { EndpointRegistry, WorkloadPort } from './registry.js';
import type { ConnectedProxy, ProxyTracker, TypeSyncStatus } from './proxy-tracker.js';
import type { ConfigView } from './config-view.js';
import { NOOP_STREAM_OBSERVER, type PushObserver, type StreamObserver } from '../observability/push-telemetry.js';

export type DiscoveryCall = grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>;

export interface DiscoveryContext {
  registry: EndpointRegistry;
  tracker: ProxyTracker;
  trustDomain: string;
  trustBundle: () => string[];
  config: ConfigView;
  logger: Logger;
  debounceMs: number;
  // True once the control plane is shutting down: streams closing then must not be pushed to the
  // sidecars still connected as "endpoint gone", or a restart would empty every caller's endpoints.
  draining?: () => boolean;
  // Push metrics and spans; absent, pushes go unobserved.
  observer?: PushObserver;
}

interface Subscription {
  status: TypeSyncStatus;
  names: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

const WILDCARD_TYPES = new Set<string>([TYPE_URLS.trustBundle, TYPE_URLS.inboundPolicy]);
const KNOWN_TYPES = new Set<string>([TYPE_URLS.trustBundle, TYPE_URLS.endpoints, TYPE_URLS.inboundPolicy, TYPE_URLS.serviceRoutes, TYPE_URLS.workloadAddresses]);

// The node's app ports as registry entries, or what is wrong with them.
function workloadPorts(node: Node__Output): WorkloadPort[] | string {
  if (node.app_ports.length === 0) return [];
  if (isIP(node.pod_ip) === 0) return `node.pod_ip "${node.pod_ip}" must be the IP address apps dial this workload at, since node.app_ports is set`;
  const ports: WorkloadPort[] = [];
  for (const appPort of node.app_ports) {
    if (!Number.isInteger(appPort.port) || appPort.port < 1 || appPort.port > 65535) return `node.app_ports: ${appPort.port} is not a port (1-65535)`;
    if (!isAppProtocol(appPort.protocol)) return `node.app_ports: protocol "${appPort.protocol}" of port ${appPort.port} is not one of http, http2, grpc, tcp (or empty to detect)`;
    const host = isIP(node.pod_ip) === 6 ? `[${node.pod_ip}]` : node.pod_ip;
    ports.push({ address: `${host}:${appPort.port}`, protocol: appPort.protocol });
  }
  return ports;
}

let nonceCounter = 0;

export function peerSpiffeId(call: Pick<DiscoveryCall, 'getAuthContext'>): string | undefined {
  const cert = call.getAuthContext().sslPeerCertificate;
  return spiffeIdsFromSubjectAltName(cert?.subjectaltname)[0];
}

export class ProxyStream {
  private proxy: ConnectedProxy | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  private unsubscribeRegistry: (() => void) | undefined;
  private unsubscribeConfig: (() => void) | undefined;
  private closed = false;
  private readonly log: Logger;
  private observed: StreamObserver = NOOP_STREAM_OBSERVER;

  constructor(
    private readonly call: DiscoveryCall,
    private readonly ctx: DiscoveryContext,
  ) {
    this.log = ctx.logger;
  }

  start(): void {
    const spiffeId = peerSpiffeId(this.call);
    const parsed = spiffeId ? parseSpiffeId(spiffeId) : undefined;
    if (!spiffeId || !parsed?.ok || parsed.value.trustDomain !== this.ctx.trustDomain) {
      this.fail(grpc.status.UNAUTHENTICATED, 'discovery needs a workload certificate of this mesh (bootstrap with the Identity service first)');
      return;
    }
    this.call.on('data', (request: DiscoveryRequest__Output) => this.onRequest(request, spiffeId, parsed.value.namespace));
    this.call.on('end', () => this.close('stream ended by the sidecar'));
    this.call.on('cancelled', () => this.close('stream cancelled'));
    this.call.on('error', (error: Error) => this.close(`stream error: ${error.message}`));
    this.call.on('close', () => this.close('stream closed'));
  }

  private fail(code: grpc.status, details: string): void {
    this.log.warn('refused discovery stream', { code: grpc.status[code], details });
    this.call.emit('error', { code, details, metadata: new grpc.Metadata() });
    this.close(details);
  }

  private register(node: Node__Output | null, spiffeId: string, namespace: string): boolean {
    if (!node || !node.id) {
      this.fail(grpc.status.INVALID_ARGUMENT, 'the first DiscoveryRequest must carry node.id, node.service and node.namespace');
      return false;
    }
    if (node.namespace !== namespace) {
      this.fail(grpc.status.PERMISSION_DENIED, `node.namespace "${node.namespace}" is not the namespace of the caller's identity ${spiffeId}`);
      return false;
    }
    if (node.service && !isValidName(node.service)) {
      this.fail(grpc.status.INVALID_ARGUMENT, `node.service "${node.service}" is not a DNS-1123 label`);
      return false;
    }
    if (node.inbound_address && (!node.service || !parseHostPort(node.inbound_address))) {
      this.fail(grpc.status.INVALID_ARGUMENT, `node.inbound_address "${node.inbound_address}" must be host:port and needs node.service`);
      return false;
    }
    const ports = workloadPorts(node);
    if (typeof ports === 'string') {
      this.fail(grpc.status.INVALID_ARGUMENT, ports);
      return false;
    }
    if (ports.length > 0 && !node.inbound_address) {
      this.fail(grpc.status.INVALID_ARGUMENT, 'node.app_ports needs node.inbound_address: callers reach those ports through this sidecar');
      return false;
    }
    const previous = this.ctx.tracker.get(node.id);
    if (previous && previous.spiffeId !== spiffeId) {
      this.fail(grpc.status.ALREADY_EXISTS, `node id "${node.id}" is connected already as ${previous.spiffeId}`);
      return false;
    }
    this.proxy = {
      nodeId: node.id,
      spiffeId,
      service: node.service,
      namespace: node.namespace,
      inboundAddress: node.inbound_address,
      connectedAt: Date.now(),
      types: new Map(),
    };
    this.ctx.tracker.add(this.proxy);
    this.observed = this.ctx.observer?.stream(node.id) ?? NOOP_STREAM_OBSERVER;
    if (node.service && node.inbound_address) {
      this.ctx.registry.upsert(`${node.service}.${node.namespace}`, { nodeId: node.id, address: node.inbound_address, identity: spiffeId, labels: { ...node.labels }, workloadPorts: ports });
    }
    this.unsubscribeRegistry = this.ctx.registry.onChange((key) => {
      if (this.subscriptions.get(TYPE_URLS.endpoints)?.names.has(key)) this.changed(TYPE_URLS.endpoints);
      if (this.subscriptions.get(TYPE_URLS.workloadAddresses)?.names.has(key)) this.changed(TYPE_URLS.workloadAddresses);
    });
    this.unsubscribeConfig = this.ctx.config.onChange(() => {
      this.changed(TYPE_URLS.inboundPolicy);
      this.changed(TYPE_URLS.serviceRoutes);
    });
    this.log.info('sidecar connected', { node: node.id, identity: spiffeId, service: node.service, inbound: node.inbound_address });
    return true;
  }

  private onRequest(request: DiscoveryRequest__Output, spiffeId: string, namespace: string): void {
    if (this.closed) return;
    if (!this.proxy && !this.register(request.node, spiffeId, namespace)) return;
    const proxy = this.proxy;
    if (!proxy) return;
    if (!KNOWN_TYPES.has(request.type_url)) {
      this.log.warn('ignored request for an unknown type', { node: proxy.nodeId, type: request.type_url });
      return;
    }
    let sub = this.subscriptions.get(request.type_url);
    if (!sub) {
      const status: TypeSyncStatus = { typeUrl: request.type_url, versionSent: '', nonceSent: '', versionAcked: request.version_info, state: 'STALE', error: '', since: Date.now(), names: [] };
      sub = { status, names: new Set(), timer: undefined };
      this.subscriptions.set(request.type_url, sub);
      proxy.types.set(request.type_url, status);
    }
    if (request.response_nonce) {
      // A response the sidecar answers after we sent a newer one says nothing about the newer one.
      if (request.response_nonce !== sub.status.nonceSent) return;
      const now = Date.now();
      if (request.error_detail?.message) {
        sub.status.state = 'NACKED';
        sub.status.error = request.error_detail.message;
        sub.status.versionAcked = request.version_info;
        this.log.warn('sidecar refused config (NACK)', { node: proxy.nodeId, type: request.type_url, version: sub.status.versionSent, error: request.error_detail.message });
        this.observed.nacked(request.type_url, sub.status.versionSent, request.error_detail.message);
      } else {
        sub.status.state = 'SYNCED';
        sub.status.error = '';
        sub.status.versionAcked = request.version_info;
        this.observed.acked(request.type_url, request.version_info);
      }
      sub.status.since = now;
    }
    const names = WILDCARD_TYPES.has(request.type_url) ? new Set<string>() : new Set(request.resource_names);
    const namesChanged = names.size !== sub.names.size || [...names].some((n) => !sub.names.has(n));
    if (namesChanged) {
      sub.names = names;
      sub.status.names = [...names].sort();
    }
    // A new subscription is answered at once (a request may be waiting on it), even if nothing changed.
    if (!request.response_nonce || namesChanged) this.push(request.type_url, true);
  }

  private changed(typeUrl: string): void {
    if (this.subscriptions.has(typeUrl)) this.observed.changed(typeUrl);
    this.schedulePush(typeUrl);
  }

  private schedulePush(typeUrl: string): void {
    const sub = this.subscriptions.get(typeUrl);
    if (!sub || sub.timer) return;
    sub.timer = setTimeout(() => {
      sub.timer = undefined;
      this.push(typeUrl, false);
    }, this.ctx.debounceMs);
  }

  // Pushes every resource of the type this sidecar is subscribed to (state of the world).
  push(typeUrl: string, force: boolean): void {
    const sub = this.subscriptions.get(typeUrl);
    if (!sub || this.closed || this.ctx.draining?.()) return;
    const resources = this.resourcesFor(typeUrl, sub.names);
    const version = createHash('sha256').update(JSON.stringify(resources)).digest('hex').slice(0, 16);
    if (!force && version === sub.status.versionSent) {
      this.observed.unchanged(typeUrl);
      return;
    }
    const nonce = `${Date.now().toString(36)}-${++nonceCounter}`;
    sub.status.versionSent = version;
    sub.status.nonceSent = nonce;
    sub.status.state = sub.status.versionAcked === version && sub.status.state === 'SYNCED' ? 'SYNCED' : 'STALE';
    if (sub.status.state === 'STALE') sub.status.since = Date.now();
    this.call.write({ type_url: typeUrl, version_info: version, nonce, resources });
    this.observed.pushed(typeUrl, version, resources.length);
  }

  private resourcesFor(typeUrl: string, names: Set<string>): Resource[] {
    if (typeUrl === TYPE_URLS.trustBundle) {
      return [{ name: 'trust-bundle', trust_bundle: { trust_domain: this.ctx.trustDomain, roots_pem: this.ctx.trustBundle() } }];
    }
    const proxy = this.proxy;
    if (typeUrl === TYPE_URLS.inboundPolicy) {
      if (!proxy?.service) return [];
      return [{ name: `${proxy.service}.${proxy.namespace}`, config_json: Buffer.from(JSON.stringify(this.ctx.config.inboundPolicy(proxy.service, proxy.namespace))) }];
    }
    if (typeUrl === TYPE_URLS.serviceRoutes) {
      return [...names].sort().map((key) => {
        const [service = '', namespace = ''] = splitServiceKey(key);
        return { name: key, config_json: Buffer.from(JSON.stringify(this.ctx.config.serviceRoutes(service, namespace))) };
      });
    }
    if (typeUrl === TYPE_URLS.workloadAddresses) {
      return [...names].sort().map((address) => {
        const owner = this.ctx.registry.byAddress(address);
        const [service = '', namespace = ''] = owner ? splitServiceKey(owner.serviceKey) : [];
        // A pod's own address names its endpoint: the caller must reach that pod, not any of the service.
        const pinned = owner?.nodeId === undefined ? [] : (this.ctx.registry.endpoints(owner.serviceKey) ?? []).filter((e) => e.node_id === owner.nodeId);
        return { name: address, endpoints: { service, namespace, endpoints: pinned, known: owner !== undefined, app_protocol: owner?.protocol ?? '', target_port: owner?.targetPort ?? 0 } };
      });
    }
    const resources: Resource[] = [];
    for (const key of [...names].sort()) {
      const endpoints = this.ctx.registry.endpoints(key);
      const [service = '', namespace = ''] = splitServiceKey(key);
      resources.push({ name: key, endpoints: { service, namespace, endpoints: endpoints ?? [], known: endpoints !== undefined } });
    }
    return resources;
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions.values()) clearTimeout(sub.timer);
    this.unsubscribeRegistry?.();
    this.unsubscribeConfig?.();
    this.observed.closed();
    const proxy = this.proxy;
    if (!proxy) return;
    this.ctx.tracker.remove(proxy.nodeId, proxy);
    if (proxy.service && proxy.inboundAddress) this.ctx.registry.remove(`${proxy.service}.${proxy.namespace}`, proxy.nodeId);
    this.log.info('sidecar disconnected', { node: proxy.nodeId, reason });
  }
}

function splitServiceKey(key: string): [string, string] {
  const dot = key.indexOf('.');
  return dot < 0 ? [key, ''] : [key.slice(0, dot), key.slice(dot + 1)];
}
