// Per-destination state the outbound layers share: load balancer, outlier detector, breaker, bulkhead, retry budget.
import { durationMs, type DestinationPolicySpec } from '@tsmesh/proto';
import { serviceKey, type ServiceName } from '../discovery/endpoint-resolver.js';
import { createLoadBalancer } from '../resilience/lb-registry.js';
import type { LoadBalancer } from '../resilience/lb-types.js';
import { OutlierDetector } from '../resilience/outlier-detector.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { Bulkhead } from '../resilience/bulkhead.js';
import { RetryBudget } from '../resilience/retry-budget.js';
import type { RouteSource } from './http/route.js';

// Where per-destination events go (metrics); every hook is optional.
export interface OutboundEvents {
  retry?(destination: string): void;
  budgetExhausted?(destination: string): void;
  poolOverflow?(destination: string): void;
  ejection?(destination: string): void;
  // lastOutcome: the result that moved the breaker (e.g. "503 MESH_ERR_OVERLOADED from 10.0.0.7:15006").
  circuitState?(destination: string, state: 'closed' | 'open' | 'half-open', lastOutcome: string): void;
}

export interface Destination {
  key: string;
  balancer: LoadBalancer;
  outliers: OutlierDetector;
  // null: the policy sets no circuitBreaker, and none refuses (decision 0020).
  breaker: CircuitBreaker | null;
  // null: no connection-pool limits configured.
  bulkhead: Bulkhead | null;
  budget: RetryBudget;
  connectTimeoutMs: number | null;
  // One HTTP/2 connection per endpoint; this caps how many endpoints get one (null: no cap).
  maxConnections: number | null;
  counters: { retries: number; budgetExhausted: number; breakerRejected: number; poolOverflow: number };
}

// The policy a destination's parts were built from; a push with a different one rebuilds them.
function policyFingerprint(spec: DestinationPolicySpec | undefined): string {
  return JSON.stringify(spec ?? null);
}

function build(key: string, spec: DestinationPolicySpec | undefined, previous: Destination | undefined): Destination {
  const lb = createLoadBalancer(spec?.loadBalancer?.type ?? 'round-robin', {});
  if (!lb.ok) throw new Error(`load balancer for ${key}: ${lb.error.message}`);
  const od = spec?.outlierDetection;
  const cb = spec?.circuitBreaker;
  const pool = spec?.connectionPool;
  const rb = spec?.retryBudget;
  return {
    key,
    balancer: lb.value,
    outliers: new OutlierDetector({
      ...(od?.consecutiveErrors ? { consecutiveErrors: od.consecutiveErrors } : {}),
      ...(od?.baseEjectionTime ? { baseEjectionMs: durationMs(od.baseEjectionTime) } : {}),
      ...(od?.maxEjectionPercent !== undefined ? { maxEjectionPercent: od.maxEjectionPercent } : {}),
    }),
    breaker: cb
      ? new CircuitBreaker({
          ...(cb.consecutiveFailures ? { failureThreshold: cb.consecutiveFailures } : {}),
          ...(cb.openTime ? { openMs: durationMs(cb.openTime) } : {}),
        })
      : null,
    bulkhead:
      pool?.maxConcurrentRequests !== undefined
        ? new Bulkhead({ maxConcurrent: pool.maxConcurrentRequests, maxPending: pool.maxPendingRequests ?? 0 })
        : null,
    budget: new RetryBudget({
      ...(rb?.percent !== undefined ? { retryPercent: rb.percent } : {}),
      ...(rb?.minRetriesPerSecond !== undefined ? { minRetriesPerSecond: rb.minRetriesPerSecond } : {}),
      ...(rb?.ttl ? { ttlMs: durationMs(rb.ttl) } : {}),
    }),
    connectTimeoutMs: pool?.connectTimeout ? durationMs(pool.connectTimeout) : null,
    maxConnections: pool?.maxConnections ?? null,
    counters: previous?.counters ?? { retries: 0, budgetExhausted: 0, breakerRejected: 0, poolOverflow: 0 },
  };
}

interface Entry {
  destination: Destination;
  // The pushed spec object the destination was last checked against, and its content.
  spec: DestinationPolicySpec | undefined;
  fingerprint: string;
}

export class Destinations {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly routes: RouteSource | undefined,
    readonly events: OutboundEvents = {},
  ) {}

  // Reads the live DestinationPolicy each time: a pushed change takes effect on the next request. Several
  // layers ask per request, so the spec is compared by reference first; a push that repeats the same
  // policy (a reconnect, a change elsewhere) keeps the breaker's, detector's and budget's state.
  get(service: ServiceName): Destination {
    const key = serviceKey(service);
    const spec = this.routes?.routes(service)?.destinationPolicy?.spec;
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.spec === spec) return entry.destination;
    const fingerprint = policyFingerprint(spec);
    if (entry !== undefined && entry.fingerprint === fingerprint) {
      entry.spec = spec;
      return entry.destination;
    }
    const destination = build(key, spec, entry?.destination);
    this.entries.set(key, { destination, spec, fingerprint });
    return destination;
  }

  getByKey(key: string): Destination | undefined {
    return this.entries.get(key)?.destination;
  }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, { destination: d }] of this.entries) {
      out[key] = {
        breaker: d.breaker?.snapshot() ?? null,
        outliers: d.outliers.snapshot(),
        retryBudget: d.budget.snapshot(),
        pool: d.bulkhead ? { active: d.bulkhead.active, pending: d.bulkhead.pending } : null,
        counters: d.counters,
      };
    }
    return out;
  }
}
