// The outbound request path, built in one place: reading this function is reading the architecture.
import type { EndpointResolver } from '../discovery/endpoint-resolver.js';
import { compose } from '../pipeline/layer.js';
import type { SessionPool } from '../transport/pool.js';
import { balancerLayer } from './http/balancer.js';
import { breakerLayer } from './http/breaker.js';
import { bulkheadLayer } from './http/bulkhead.js';
import { faultLayer } from './http/fault.js';
import { forwardHandler } from './http/forward.js';
import { perTryTimeoutLayer } from './http/per-try-timeout.js';
import { retryLayer } from './http/retry.js';
import { routeLayer, type RouteSource } from './http/route.js';
import { targetLayer } from './http/target.js';
import { timeoutLayer } from './http/timeout.js';
import type { OutboundHandler, OutboundLayer, OutboundRequest, UpstreamResponse } from './http/types.js';
import type { Destinations } from './destinations.js';

export interface OutboundStackOptions {
  localNamespace: string;
  resolver: EndpointResolver;
  routes: RouteSource | undefined;
  destinations: Destinations;
  defaultTimeoutMs: number;
  pool: SessionPool;
  // Telemetry slots: the request as a whole, and each try.
  requestObserver?: OutboundLayer;
  attemptObserver?: OutboundLayer;
}

const passThrough: OutboundLayer = (next) => next;

export function buildOutboundStack(options: OutboundStackOptions): OutboundHandler {
  const { destinations } = options;
  return compose<OutboundRequest, UpstreamResponse>(
    // Telemetry outermost: it sees the request as the app made it, and every refusal below, a bad Host included.
    options.requestObserver ?? passThrough,
    // First: everything below needs to know which service, and a bad Host is the app's mistake (400), not the mesh's.
    targetLayer(options.localNamespace),
    // Route: matches set the backend and the policy (timeouts, retries, faults) every layer below reads.
    routeLayer(options.routes),
    // Faults stand in for the service, so they come before any real work and inside the route's decision.
    faultLayer(),
    // Overall deadline outside retries and everything that can wait (discovery, connect, the peer).
    timeoutLayer(options.defaultTimeoutMs),
    // Retries inside the deadline, spending from the destination's budget; each try picks an endpoint afresh.
    retryLayer({
      budget: (service) => destinations.get(service).budget,
      onRetry: (key) => {
        const destination = destinations.getByKey(key);
        if (destination) destination.counters.retries++;
        destinations.events.retry?.(key);
      },
      onBudgetExhausted: (key) => {
        const destination = destinations.getByKey(key);
        if (destination) destination.counters.budgetExhausted++;
        destinations.events.budgetExhausted?.(key);
      },
    }),
    // One span per try, so a retried request shows each attempt.
    options.attemptObserver ?? passThrough,
    // A try's own deadline, so a hung endpoint costs one try, not the whole budget of time.
    perTryTimeoutLayer(),
    // Per try: resolve the backend and pick an endpoint, skipping ejected ones and those that failed already.
    balancerLayer(options.resolver, destinations, options.pool),
    // Per destination and endpoint: refuse fast when the circuit is open, record outcomes for ejection.
    breakerLayer(destinations),
    // The bulkhead holds its slot until the response ends; over the limit fails fast with 503.
    bulkheadLayer(destinations),
  )(
    // Last: the per-connection world (pooled tsmesh/1 or h2 connection, mTLS, identity check) is below every per-request layer.
    forwardHandler(options.pool),
  );
}
