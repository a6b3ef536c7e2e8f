// DestinationPolicy: how callers treat a service's endpoints: balancing, pool limits, ejection, retry budget.
import { Type, type Static } from '@sinclair/typebox';
import { DnsLabel, Duration, Percent } from './common.js';

export const DestinationPolicySpec = Type.Object(
  {
    service: DnsLabel,
    loadBalancer: Type.Optional(Type.Object({ type: Type.Union([Type.Literal('round-robin'), Type.Literal('p2c-ewma')]) }, { additionalProperties: false })),
    connectionPool: Type.Optional(
      Type.Object(
        {
          maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
          maxPendingRequests: Type.Optional(Type.Integer({ minimum: 0 })),
          maxConcurrentRequests: Type.Optional(Type.Integer({ minimum: 1 })),
          connectTimeout: Type.Optional(Duration),
          idleTimeout: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    outlierDetection: Type.Optional(
      Type.Object(
        {
          consecutiveErrors: Type.Optional(Type.Integer({ minimum: 1 })),
          interval: Type.Optional(Duration),
          baseEjectionTime: Type.Optional(Duration),
          maxEjectionPercent: Type.Optional(Percent),
        },
        { additionalProperties: false },
      ),
    ),
    // Per destination: opens after this many consecutive failures, then lets one probe through.
    circuitBreaker: Type.Optional(
      Type.Object(
        {
          consecutiveFailures: Type.Optional(Type.Integer({ minimum: 1 })),
          openTime: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    retryBudget: Type.Optional(
      Type.Object(
        {
          // Retries may add at most this share of the request rate (Linkerd: 20%).
          percent: Type.Optional(Percent),
          minRetriesPerSecond: Type.Optional(Type.Integer({ minimum: 0 })),
          ttl: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DestinationPolicySpec = Static<typeof DestinationPolicySpec>;
