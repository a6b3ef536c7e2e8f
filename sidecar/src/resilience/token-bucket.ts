// Token buckets for rate limits (global and per caller identity): continuous refill from an injected clock, no timers.

export interface TokenBucketLimits {
  ratePerSecond: number;
  burst: number;
}

export interface TokenBucketOptions extends TokenBucketLimits {
  now?: () => number;
}

// Float refill can land a hair under a whole token at the instant retryAfterMs promised it.
const EPSILON = 1e-9;

function checkLimits(limits: TokenBucketLimits): void {
  if (!Number.isFinite(limits.ratePerSecond) || limits.ratePerSecond < 0) throw new RangeError(`token bucket: ratePerSecond must be >= 0, got ${limits.ratePerSecond}`);
  if (!Number.isFinite(limits.burst) || limits.burst < 1) throw new RangeError(`token bucket: burst must be >= 1, got ${limits.burst}`);
}

export class TokenBucket {
  private limits: TokenBucketLimits;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(options: TokenBucketOptions) {
    checkLimits(options);
    this.limits = { ratePerSecond: options.ratePerSecond, burst: options.burst };
    this.now = options.now ?? (() => performance.now());
    this.tokens = options.burst;
    this.last = this.now();
  }

  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens + EPSILON < n) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  // Milliseconds until n tokens are available (0 if now); Infinity if they never will be (n > burst, or rate 0).
  retryAfterMs(n = 1): number {
    this.refill();
    if (this.tokens + EPSILON >= n) return 0;
    if (n > this.limits.burst || this.limits.ratePerSecond === 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(((n - this.tokens) * 1000) / this.limits.ratePerSecond);
  }

  available(): number {
    this.refill();
    return this.tokens;
  }

  // A config push changes the limits live: tokens earned so far are kept, clamped to the new burst.
  setLimits(limits: TokenBucketLimits): void {
    checkLimits(limits);
    this.refill();
    this.limits = { ratePerSecond: limits.ratePerSecond, burst: limits.burst };
    this.tokens = Math.min(this.tokens, limits.burst);
  }

  private refill(): void {
    const t = this.now();
    // A clock that steps back must not mint tokens later for the same interval twice.
    if (t <= this.last) return;
    this.tokens = Math.min(this.limits.burst, this.tokens + ((t - this.last) * this.limits.ratePerSecond) / 1000);
    this.last = t;
  }
}

export interface KeyedTokenBucketsOptions {
  defaults: TokenBucketLimits;
  overrides?: ReadonlyMap<string, TokenBucketLimits>;
  // Beyond this many keys the least recently used bucket is forgotten (it comes back full).
  maxKeys?: number;
  now?: () => number;
}

export class KeyedTokenBuckets {
  private defaults: TokenBucketLimits;
  private overrides: ReadonlyMap<string, TokenBucketLimits>;
  private readonly maxKeys: number;
  private readonly now: () => number;
  // Map iteration order is insertion order; re-inserting on use makes the first key the least recently used.
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(options: KeyedTokenBucketsOptions) {
    checkLimits(options.defaults);
    for (const limits of options.overrides?.values() ?? []) checkLimits(limits);
    this.defaults = options.defaults;
    this.overrides = options.overrides ?? new Map();
    this.maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError(`keyed token buckets: maxKeys must be a positive integer, got ${this.maxKeys}`);
    this.now = options.now ?? (() => performance.now());
  }

  tryTake(key: string, n = 1): boolean {
    return this.bucket(key).tryTake(n);
  }

  retryAfterMs(key: string, n = 1): number {
    return this.bucket(key).retryAfterMs(n);
  }

  get size(): number {
    return this.buckets.size;
  }

  // Live reconfiguration: existing callers keep the tokens they have, clamped to their new burst.
  configure(defaults: TokenBucketLimits, overrides: ReadonlyMap<string, TokenBucketLimits> = new Map()): void {
    checkLimits(defaults);
    for (const limits of overrides.values()) checkLimits(limits);
    this.defaults = defaults;
    this.overrides = overrides;
    for (const [key, bucket] of this.buckets) bucket.setLimits(this.limitsFor(key));
  }

  private limitsFor(key: string): TokenBucketLimits {
    return this.overrides.get(key) ?? this.defaults;
  }

  private bucket(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
    } else {
      bucket = new TokenBucket({ ...this.limitsFor(key), now: this.now });
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(key, bucket);
    return bucket;
  }
}
