// Outbound listener: the local app's HTTP/1.1, h2c or (intercepted) TCP, carried over mTLS (tsmesh/1 or HTTP/2) to peers.
import { createServer as createNetServer, type Socket } from 'node:net';
import { createLogger, type Logger } from '@tsmesh/proto';
import type { AddressResolver, EndpointResolver } from '../discovery/endpoint-resolver.js';
import type { OriginalDstReader } from '../intercept/original-dst.js';
import { createH2Proxy } from './h2-proxy.js';
import { routeConnection, type TransparentTarget } from './transparent.js';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { BadRequestError, MalformedRequestError } from '../errors.js';
import { respondRawSocket } from '../errors-respond.js';
import { serveHttp1, type H1ConnectionHandlers } from './h1-connection.js';
import { listen, SocketSet, type ListenerHandle } from '../transport/listen.js';
import { SessionPool } from '../transport/pool.js';
import { proxyHttp1 } from './h1-proxy.js';
import { buildOutboundStack } from './stack.js';
import { proxyUpgrade } from './websocket.js';
import { Destinations, type OutboundEvents } from './destinations.js';
import type { RouteSource } from './http/route.js';
import type { OutboundLayer } from './http/types.js';

export interface OutboundListenerOptions {
  host: string;
  // 0 picks an ephemeral port; read it from the returned address.
  port: number;
  localNamespace: string;
  resolver: EndpointResolver;
  // HTTPRoutes and DestinationPolicies of called services; without it every service gets the default route.
  routes?: RouteSource;
  tls: TlsMaterialSource;
  requestObserver?: OutboundLayer;
  attemptObserver?: OutboundLayer;
  events?: OutboundEvents;
  onHandshake?: (result: 'success' | 'handshake_error') => void;
  // Overall timeout per request until routes configure one.
  defaultTimeoutMs?: number;
  // How long an app may take to send a request head; HEAD_TIMEOUT_MS unless a test needs it short.
  headTimeoutMs?: number;
  // What plain exchanges offer peers by ALPN; ['h2'] turns tsmesh/1 off.
  peerProtocols?: readonly string[];
  // Transparent interception: read redirected connections' original destinations and find their services.
  transparent?: { originalDst: OriginalDstReader; addresses: AddressResolver; detectTimeoutMs: number; onPassthrough?: () => void };
  logger?: Logger;
}

export type { ListenerHandle } from '../transport/listen.js';

export interface OutboundListenerHandle extends ListenerHandle {
  destinations: Destinations;
}

export const DEFAULT_OUTBOUND_TIMEOUT_MS = 15_000;
// How long an app's idle keep-alive connection stays open. The app's own pool decides when to drop it
// (Go keeps idle connections 90 s, urllib3 until they fail): closing after Node 20's 5 s default races
// requests the app writes into a connection as it closes, and a POST cannot be retried. Envoy's
// default is an hour as well.
export const APP_KEEPALIVE_TIMEOUT_MS = 3_600_000;
// How long an app may take to send a whole request head (node:http's headersTimeout).
export const HEAD_TIMEOUT_MS = 60_000;

// An open circuit refuses every request to a destination: operators must see when and why in the log.
function withCircuitLog(events: OutboundEvents, logger: Logger): OutboundEvents {
  return {
    ...events,
    circuitState: (destination, state, lastOutcome) => {
      events.circuitState?.(destination, state, lastOutcome);
      if (state === 'open') logger.warn('circuit opened: requests are refused with 503 MESH_ERR_CIRCUIT_OPEN until a probe succeeds', { destination, lastOutcome });
      else if (state === 'closed') logger.info('circuit closed: a probe succeeded', { destination, lastOutcome });
    },
  };
}

export async function startOutboundListener(options: OutboundListenerOptions): Promise<OutboundListenerHandle> {
  const logger = options.logger ?? createLogger('sidecar.outbound');
  const pool = new SessionPool({
    tls: options.tls,
    logger,
    ...(options.peerProtocols ? { peerProtocols: options.peerProtocols } : {}),
    ...(options.onHandshake ? { onHandshake: options.onHandshake } : {}),
  });
  const destinations = new Destinations(options.routes, withCircuitLog(options.events ?? {}, logger));
  const handler = buildOutboundStack({
    localNamespace: options.localNamespace,
    resolver: options.resolver,
    routes: options.routes,
    destinations,
    ...(options.requestObserver ? { requestObserver: options.requestObserver } : {}),
    ...(options.attemptObserver ? { attemptObserver: options.attemptObserver } : {}),
    defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS,
    pool,
  });
  const detached = new SocketSet();
  // No overall request timeout: long uploads are fine; the pipeline's own deadline decides, and answers 504 instead of a reset.
  const http1 = (target: TransparentTarget | undefined): H1ConnectionHandlers => ({
    request: (exchange) => proxyHttp1(handler, exchange, logger, target),
    upgrade: (head, socket, rest) => {
      detached.add(socket);
      proxyUpgrade(handler, head, socket, rest, logger, target);
    },
    refuse: (socket, error) => {
      if (typeof error !== 'string') logger.debug('malformed request from app', { error: error.message });
      const refusal = typeof error === 'string' ? new BadRequestError(error) : new MalformedRequestError(`outbound/listener: malformed HTTP/1.1 request: ${error.message}`, error.status);
      if (socket.writable) respondRawSocket(socket, refusal);
      else socket.destroy();
    },
    idleTimeoutMs: APP_KEEPALIVE_TIMEOUT_MS,
    headTimeoutMs: options.headTimeoutMs ?? HEAD_TIMEOUT_MS,
  });
  const direct = http1(undefined);
  const h2 = createH2Proxy(handler, logger);
  const connections = new SocketSet();
  const noAddresses: AddressResolver = { resolveAddress: () => Promise.resolve({ ok: true, value: null }) };
  const routing = {
    originalDst: options.transparent?.originalDst,
    resolver: options.transparent?.addresses ?? noAddresses,
    http1: (socket: Socket, target: TransparentTarget | undefined) => serveHttp1(socket, target ? http1(target) : direct),
    h2,
    handler,
    detectTimeoutMs: options.transparent?.detectTimeoutMs ?? 500,
    logger,
    ...(options.transparent?.onPassthrough ? { onPassthrough: options.transparent.onPassthrough } : {}),
  };
  // Half-open: an opaque client may finish sending and still wait for the answer.
  const front = createNetServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    routeConnection(socket, routing);
  });
  const address = await listen(front, options.host, options.port);
  logger.info('outbound listener started', { address: `${address.host}:${address.port}` });
  return {
    address,
    destinations,
    close: () => {
      pool.destroy();
      detached.destroyAll();
      h2.close();
      connections.destroyAll();
      return new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}

