// Rate limit layer: the service's RateLimitPolicy as token buckets, for all callers and per caller identity.
import type { RateLimitPolicyResource } from '@tsmesh/proto';
import { RateLimitedError } from '../../errors.js';
import { TokenBucket, KeyedTokenBuckets, type TokenBucketLimits } from '../../resilience/token-bucket.js';
import type { InboundPolicySource } from './authz.js';
import type { InboundLayer } from './types.js';

interface Limiter {
  policy: RateLimitPolicyResource;
  global: TokenBucket | null;
  perCaller: KeyedTokenBuckets | null;
}

function limits(rps: number, burst: number | undefined): TokenBucketLimits {
  // Without an explicit burst, one second's worth (at least 1) may arrive at once.
  return { ratePerSecond: rps, burst: burst ?? Math.max(1, Math.ceil(rps)) };
}

function build(policy: RateLimitPolicyResource): Limiter {
  const spec = policy.spec;
  const overrides = new Map((spec.overrides ?? []).map((o) => [o.principal, limits(o.requestsPerSecond, o.burst)] as const));
  return {
    policy,
    global: spec.global ? new TokenBucket(limits(spec.global.requestsPerSecond, spec.global.burst)) : null,
    // Overrides need a per-caller table even when no default per-caller limit is set.
    perCaller: spec.perCaller || overrides.size > 0 ? new KeyedTokenBuckets({ defaults: spec.perCaller ? limits(spec.perCaller.requestsPerSecond, spec.perCaller.burst) : { ratePerSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER }, overrides }) : null,
  };
}

export function rateLimitLayer(policies: InboundPolicySource, onLimited?: () => void): InboundLayer {
  let limiter: Limiter | null = null;
  return (next) => (req) => {
    const policy = policies.current()?.rateLimitPolicy ?? null;
    if (!policy) return next(req);
    // A new push is a new object: rebuild the buckets (a policy change starts them full).
    if (limiter?.policy !== policy) limiter = build(policy);
    const caller = req.peerId ?? 'unauthenticated';
    const name = `${policy.metadata.namespace}/${policy.metadata.name}`;
    // Per caller first: a caller over its own share must not spend the shared bucket.
    if (limiter.perCaller && !limiter.perCaller.tryTake(caller)) {
      onLimited?.();
      return Promise.reject(new RateLimitedError(`inbound/rate-limit: ${caller} is over its limit in RateLimitPolicy ${name}`, limiter.perCaller.retryAfterMs(caller)));
    }
    if (limiter.global && !limiter.global.tryTake()) {
      onLimited?.();
      return Promise.reject(new RateLimitedError(`inbound/rate-limit: the service is over its global limit in RateLimitPolicy ${name}`, limiter.global.retryAfterMs()));
    }
    return next(req);
  };
}
