// RateLimitPolicy: token buckets on a service's inbound side, for all callers and per caller identity.
import { Type, type Static } from '@sinclair/typebox';
import { DnsLabel, SpiffeId } from './common.js';

const Bucket = Type.Object(
  {
    requestsPerSecond: Type.Number({ exclusiveMinimum: 0 }),
    burst: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const RateLimitPolicySpec = Type.Object(
  {
    service: DnsLabel,
    global: Type.Optional(Bucket),
    perCaller: Type.Optional(Bucket),
    overrides: Type.Optional(Type.Array(Type.Object({ principal: SpiffeId, requestsPerSecond: Type.Number({ exclusiveMinimum: 0 }), burst: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);
export type RateLimitPolicySpec = Static<typeof RateLimitPolicySpec>;
