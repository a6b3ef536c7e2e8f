// The outbound request path, built in one place: reading this function is reading the architecture.
import type { EndpointResolver } from '../discovery/endpoint-resolver.js';
import { compose } from '../pipeline/layer.js';
import type { SessionPool } from '../transport/pool.js';
import { roundRobinLayer } from './http/balancer.js';
import { forwardHandler } from './http/forward.js';
import { targetLayer } from './http/target.js';
import { timeoutLayer } from './http/timeout.js';
import type { OutboundHandler, OutboundRequest, UpstreamResponse } from './http/types.js';

export interface OutboundStackOptions {
  localNamespace: string;
  resolver: EndpointResolver;
  defaultTimeoutMs: number;
  pool: SessionPool;
}

export function buildOutboundStack(options: OutboundStackOptions): OutboundHandler {
  return compose<OutboundRequest, UpstreamResponse>(
    // First: everything below needs to know which service, and a bad Host is the app's mistake (400), not the mesh's.
    targetLayer(options.localNamespace),
    // Overall deadline outside everything that can wait (discovery, connect, the peer), so nothing outlives it.
    timeoutLayer(options.defaultTimeoutMs),
    // Retry (with budget) and per-try timeout go here, so each try picks an endpoint afresh.
    // Per request, below the deadline: resolution can be slow on a cold start and the deadline must cover it.
    roundRobinLayer(options.resolver),
    // Circuit breaker / outlier detection and the connection-pool bulkhead go here, per endpoint.
  )(
    // Last: the per-connection world (pooled h2 session, mTLS, identity check) is below every per-request layer.
    forwardHandler(options.pool),
  );
}
