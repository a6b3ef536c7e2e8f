// The sidecar's end of the discovery stream: subscribe, validate, apply or NACK, reconnect with backoff.
import * as grpc from '@grpc/grpc-js';
import { meshProtos, expectControlPlane, TYPE_URLS, ok, err, type AggregatedDiscoveryClient, type DiscoveryRequest, type DiscoveryResponse__Output, type Logger, type Node, type Result, type InboundPolicy, type ServiceRoutes } from '@tsmesh/proto';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { Backoff } from './backoff.js';
import { serviceKey, type AddressOwner, type AddressResolver, type EndpointResolver, type ResolveFailure, type ServiceEndpoint, type ServiceName } from './endpoint-resolver.js';
import { AddressTable } from './address-table.js';
import { ReconnectGrace, RECONNECT_GRACE_MS } from './reconnect-grace.js';
import { WaitList } from './wait-list.js';
import { validateResponse, type ServiceEntry } from './validate.js';
import type { CancelSignal } from '../pipeline/cancellation.js';

export interface DiscoveryClientOptions {
  controlPlaneAddress: string;
  // The SPIFFE ID the control plane must present; hostnames are not identities here.
  controlPlaneIdentity: string;
  trustDomain: string;
  node: Node;
  tls: TlsMaterialSource;
  logger: Logger;
  onTrustBundle: (rootsPem: string[]) => void;
  backoff?: { baseMs: number; maxMs: number };
  resolveTimeoutMs?: number;
  // After a reconnect: how long a service's last good endpoints (an address's last owner) outlive answers without any.
  reconnectGraceMs?: number;
}

export interface AppliedType {
  version: string;
  nonce: string;
  appliedAt: number;
  lastNack?: { version: string; error: string; at: number };
}

// connected: stream open. backoff: waiting to reconnect. stopped: stop() was called.
export type DiscoveryClientState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export class DiscoveryClient implements EndpointResolver, AddressResolver {
  private state: DiscoveryClientState = 'connecting';
  private client: AggregatedDiscoveryClient | undefined;
  private stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output> | undefined;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly services = new Map<string, ServiceEntry>();
  private readonly routeTables = new Map<string, ServiceRoutes>();
  private inbound: InboundPolicy | undefined;
  private readonly inboundListeners = new Set<(policy: InboundPolicy | undefined) => void>();
  private readonly subscribed = new Set<string>();
  private readonly applied = new Map<string, AppliedType>();
  private readonly waiters = new WaitList<ServiceEndpoint[]>();
  private readonly log: Logger;
  private firstRequestSent = false;
  // Nonces are only meaningful on the stream that sent them; a new stream starts without any.
  private readonly streamNonces = new Map<string, string>();
  private readonly addresses: AddressTable;
  private readonly grace: ReconnectGrace;

  constructor(private readonly options: DiscoveryClientOptions) {
    this.backoff = new Backoff(options.backoff ?? { baseMs: 250, maxMs: 8_000 });
    this.log = options.logger;
    this.grace = new ReconnectGrace(options.reconnectGraceMs ?? RECONNECT_GRACE_MS, (keys) => {
      this.log.info('reconnect grace over; applied the control plane\'s answers held back', { resources: keys });
      this.settleWaiters();
    });
    this.addresses = new AddressTable(() => this.sendAddressesRequest(), options.resolveTimeoutMs ?? 5_000, () => this.state);
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.reconnectTimer);
    this.grace.stop();
    this.stream?.cancel();
    this.client?.close();
    this.waiters.stop();
    this.addresses.stop();
  }

  get connectionState(): DiscoveryClientState {
    return this.state;
  }

  hasApplied(typeUrl: string): boolean {
    return this.applied.has(typeUrl);
  }

  snapshot(): { state: DiscoveryClientState; types: Record<string, AppliedType>; services: Record<string, ServiceEntry>; routes: Record<string, ServiceRoutes>; addresses: Record<string, AddressOwner | null>; inboundPolicy: InboundPolicy | undefined } {
    return { state: this.state, types: Object.fromEntries(this.applied), services: Object.fromEntries(this.services), routes: Object.fromEntries(this.routeTables), addresses: this.addresses.snapshot(), inboundPolicy: this.inbound };
  }

  // Transparent interception: the service behind an intercepted connection's original destination.
  resolveAddress(address: string, signal?: CancelSignal): Promise<Result<AddressOwner | null, ResolveFailure>> {
    return this.addresses.resolve(address, signal);
  }

  // The policy for this sidecar's own service, once the control plane has sent it.
  inboundPolicy(): InboundPolicy | undefined {
    return this.inbound;
  }

  onInboundPolicy(listener: (policy: InboundPolicy | undefined) => void): () => void {
    this.inboundListeners.add(listener);
    return () => this.inboundListeners.delete(listener);
  }

  // Routes and destination policy of a service this sidecar calls (undefined until known).
  serviceRoutes(service: ServiceName): ServiceRoutes | undefined {
    return this.routeTables.get(serviceKey(service));
  }

  // RouteSource: the route layer reads routes synchronously after this has made sure they are here.
  routes(service: ServiceName): ServiceRoutes | undefined {
    return this.routeTables.get(serviceKey(service));
  }

  // Subscribes on first use and waits (bounded) for the service's routes; without them the default route applies.
  // Returns nothing when the routes are here already, so the hot path does not wait on a promise.
  prepare(service: ServiceName, signal?: CancelSignal): Promise<void> | undefined {
    if (this.routeTables.has(serviceKey(service))) return undefined;
    return this.resolve(service, signal).then(() => undefined);
  }

  resolveKnown(service: ServiceName): Result<ServiceEndpoint[], ResolveFailure> | undefined {
    const key = serviceKey(service);
    const entry = this.services.get(key);
    return entry && this.routeTables.has(key) ? settleEntry(key, entry) : undefined;
  }

  async resolve(service: ServiceName, signal?: CancelSignal): Promise<Result<ServiceEndpoint[], ResolveFailure>> {
    const key = serviceKey(service);
    const entry = this.services.get(key);
    if (entry && this.routeTables.has(key)) return settleEntry(key, entry);
    if (!this.subscribed.has(key)) {
      this.subscribed.add(key);
      this.sendEndpointsRequest();
    }
    return this.waiters.wait(key, key, this.options.resolveTimeoutMs ?? 5_000, () => this.state, signal);
  }

  // A lookup is answered once both halves are in: endpoints to pick from and routes to obey.
  private settleWaiters(): void {
    this.waiters.settle((key) => {
      const entry = this.services.get(key);
      return entry && this.routeTables.has(key) ? settleEntry(key, entry) : undefined;
    });
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const material = this.options.tls.current();
    const credentials = grpc.credentials.createSsl(Buffer.from(material.trustBundlePem.join('')), Buffer.from(material.keyPem), Buffer.from(material.certChainPem), {
      checkServerIdentity: expectControlPlane(this.options.controlPlaneIdentity),
    });
    const { AggregatedDiscovery } = meshProtos().discovery.tsmesh.discovery.v1;
    this.client?.close();
    this.client = new AggregatedDiscovery(this.options.controlPlaneAddress, credentials, {
      // SNI carries a name, not the dialled IP (RFC 6066); identity is checked by SPIFFE ID above.
      'grpc.ssl_target_name_override': 'mesh-control-plane',
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    });
    const stream = this.client.StreamResources();
    this.stream = stream;
    this.firstRequestSent = false;
    this.streamNonces.clear();
    stream.on('data', (response: DiscoveryResponse__Output) => this.onResponse(response));
    stream.on('error', (error: grpc.ServiceError) => this.onStreamEnd(stream, `${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`));
    stream.on('end', () => this.onStreamEnd(stream, 'stream ended by the control plane'));
    this.send({ type_url: TYPE_URLS.trustBundle });
    if (this.options.node.service) this.send({ type_url: TYPE_URLS.inboundPolicy });
    this.sendEndpointsRequest();
    this.sendAddressesRequest();
  }

  private onStreamEnd(stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>, reason: string): void {
    if (stream !== this.stream || this.state === 'stopped') return;
    this.stream = undefined;
    this.state = 'backoff';
    const delay = this.backoff.next();
    // Config already applied keeps serving; only new lookups wait for the control plane.
    this.log.warn('discovery stream lost; keeping the last good config', { reason, retryInMs: delay, attempt: this.backoff.attempts });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send(request: Omit<DiscoveryRequest, 'node'>): void {
    if (!this.stream) return;
    const typeUrl = request.type_url ?? '';
    const applied = this.applied.get(typeUrl);
    const message: DiscoveryRequest = { version_info: applied?.version ?? '', ...request };
    if (!this.firstRequestSent) {
      message.node = this.options.node;
      this.firstRequestSent = true;
    }
    this.stream.write(message);
  }

  // Routes are subscribed with the same names as endpoints: a called service needs both.
  private sendEndpointsRequest(): void {
    if (!this.stream || this.subscribed.size === 0) return;
    const names = [...this.subscribed].sort();
    this.send({ type_url: TYPE_URLS.endpoints, resource_names: names, response_nonce: this.streamNonces.get(TYPE_URLS.endpoints) ?? '' });
    this.send({ type_url: TYPE_URLS.serviceRoutes, resource_names: names, response_nonce: this.streamNonces.get(TYPE_URLS.serviceRoutes) ?? '' });
  }

  private sendAddressesRequest(): void {
    const names = this.addresses.names();
    if (!this.stream || names.length === 0) return;
    this.send({ type_url: TYPE_URLS.workloadAddresses, resource_names: names, response_nonce: this.streamNonces.get(TYPE_URLS.workloadAddresses) ?? '' });
  }

  private subscribedNames(typeUrl: string): string[] {
    if (typeUrl === TYPE_URLS.endpoints || typeUrl === TYPE_URLS.serviceRoutes) return [...this.subscribed].sort();
    if (typeUrl === TYPE_URLS.workloadAddresses) return this.addresses.names();
    return [];
  }

  private onResponse(response: DiscoveryResponse__Output): void {
    if (this.state !== 'connected') this.grace.streamStarted();
    this.state = 'connected';
    this.backoff.reset();
    const typeUrl = response.type_url;
    this.streamNonces.set(typeUrl, response.nonce);
    const validated = validateResponse(typeUrl, response.resources, this.options.trustDomain);
    const names = this.subscribedNames(typeUrl);
    if (!validated.ok) {
      const previous = this.applied.get(typeUrl);
      if (previous) previous.lastNack = { version: response.version_info, error: validated.error, at: Date.now() };
      this.log.warn('refused pushed config (NACK); the last good config keeps serving', { type: typeUrl, version: response.version_info, error: validated.error });
      this.send({ type_url: typeUrl, version_info: previous?.version ?? '', response_nonce: response.nonce, resource_names: names, error_detail: { code: grpc.status.INVALID_ARGUMENT, message: validated.error } });
      return;
    }
    const value = validated.value;
    if (value.typeUrl === TYPE_URLS.trustBundle) {
      this.options.onTrustBundle(value.rootsPem);
    } else if (value.typeUrl === TYPE_URLS.inboundPolicy) {
      this.inbound = value.policy;
      for (const listener of this.inboundListeners) listener(value.policy);
    } else if (value.typeUrl === TYPE_URLS.serviceRoutes) {
      for (const [key, routes] of value.routes) this.routeTables.set(key, routes);
      this.settleWaiters();
    } else if (value.typeUrl === TYPE_URLS.workloadAddresses) {
      this.applyAddresses(value.addresses);
    } else {
      for (const [key, entry] of value.services) this.applyEndpoints(key, entry);
      this.settleWaiters();
    }
    const lastNack = this.applied.get(typeUrl)?.lastNack;
    this.applied.set(typeUrl, { version: response.version_info, nonce: response.nonce, appliedAt: Date.now(), ...(lastNack ? { lastNack } : {}) });
    this.send({ type_url: typeUrl, version_info: response.version_info, response_nonce: response.nonce, resource_names: names });
  }

  // Right after a reconnect, an answer that takes every endpoint of a service away is held back (and ACKed:
  // the control plane pushes again as endpoints return) until the grace ends; any answer with endpoints
  // replaces it. Past the grace, "unknown" and "no endpoints" apply at once, as always.
  private applyEndpoints(key: string, entry: ServiceEntry): void {
    const held = `service ${key}`;
    const had = (this.services.get(key)?.endpoints.length ?? 0) > 0;
    const wasHeld = this.grace.isHeld(held);
    if (entry.endpoints.length === 0 && had && this.grace.hold(held, () => this.services.set(key, entry))) {
      if (!wasHeld) this.log.info('control plane has no endpoints yet for a service after the reconnect; keeping the last good ones meanwhile', { service: key, known: entry.known, graceMs: this.grace.remainingMs() });
      return;
    }
    this.grace.drop(held);
    this.services.set(key, entry);
  }

  // The same for transparent mode: "outside the mesh" applied too early would send a mesh pod's traffic out
  // as dialled, without mTLS.
  private applyAddresses(answers: Map<string, AddressOwner | null>): void {
    const applyNow = new Map<string, AddressOwner | null>();
    for (const [address, owner] of answers) {
      const held = `address ${address}`;
      const wasHeld = this.grace.isHeld(held);
      if (owner === null && this.addresses.ownerOf(address) && this.grace.hold(held, () => this.addresses.apply(new Map([[address, null]])))) {
        if (!wasHeld) this.log.info('control plane does not know a workload address yet after the reconnect; keeping its last owner meanwhile', { address, graceMs: this.grace.remainingMs() });
        continue;
      }
      this.grace.drop(held);
      applyNow.set(address, owner);
    }
    this.addresses.apply(applyNow);
  }
}

function settleEntry(key: string, entry: ServiceEntry): Result<ServiceEndpoint[], ResolveFailure> {
  if (!entry.known) return err({ kind: 'unknown-service', message: `the control plane knows no service ${key}` });
  if (entry.endpoints.length === 0) return err({ kind: 'no-endpoints', message: `service ${key} has no live endpoints` });
  return ok(entry.endpoints);
}
