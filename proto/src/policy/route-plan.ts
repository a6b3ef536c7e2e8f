// What the route layer decides for a request: which rule matched, and the policy the lower layers enforce.
// A service by name and namespace (the sidecar's ServiceRef has the same shape).
export interface ServiceRef {
  name: string;
  namespace: string;
}

export type RetryCondition = 'connect-failure' | 'refused-stream' | 'reset' | 'gateway-error' | '5xx' | number;

export interface RetryPlan {
  // Retries after the first try (0 = never retry).
  retries: number;
  on: ReadonlySet<RetryCondition>;
  backoffBaseMs: number;
  backoffMaxMs: number;
  retryNonIdempotent: boolean;
}

export interface FaultPlan {
  delay?: { percent: number; ms: number };
  abort?: { percent: number; status: number };
}

export interface WeightedBackend {
  service: ServiceRef;
  weight: number;
}

export interface RoutePlan {
  // "namespace/route#rule" for stats and refusal reasons; "default" when no HTTPRoute matched.
  name: string;
  backends: WeightedBackend[];
  requestTimeoutMs: number | null;
  perTryTimeoutMs: number | null;
  retry: RetryPlan;
  fault: FaultPlan | null;
}

// Without a route: retry only what provably never reached the peer, and a 503 for idempotent requests.
export const DEFAULT_RETRY: RetryPlan = {
  retries: 2,
  on: new Set<RetryCondition>(['connect-failure', 'refused-stream', 503]),
  backoffBaseMs: 25,
  backoffMaxMs: 250,
  retryNonIdempotent: false,
};
