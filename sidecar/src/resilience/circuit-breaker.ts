// Circuit breaker per destination: stop sending to a destination that keeps failing, then let one probe find out.

// closed: everything passes; failures are counted.
// open: everything is refused until openUntil.
// half-open: exactly one probe passes; its success closes, its failure re-opens for longer.
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  // Opens after this many consecutive failures (consecutive, not a ratio: deterministic and needs no window).
  failureThreshold?: number;
  openMs?: number;
  // Each re-open doubles the open time up to this.
  maxOpenMs?: number;
  // A probe that never reports (lost, or its caller gave up) frees the slot for another probe after this long.
  probeTimeoutMs?: number;
  now?: () => number;
}

export type CircuitAdmission = { allowed: true; probe: boolean } | { allowed: false; retryAfterMs: number };

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  // Times the breaker went from closed or half-open to open.
  opens: number;
  // The next open period (or the current one while open).
  openDurationMs: number;
  retryAfterMs: number;
}

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private opens = 0;
  private reopenCount = 0;
  private openUntil = 0;
  private probeSince: number | undefined;
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly maxOpenMs: number;
  private readonly probeTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 5_000;
    this.maxOpenMs = options.maxOpenMs ?? 60_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 30_000;
    this.now = options.now ?? (() => performance.now());
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw new RangeError(`circuit breaker: failureThreshold must be a positive integer, got ${this.threshold}`);
    if (!(this.openMs > 0) || !(this.maxOpenMs >= this.openMs)) throw new RangeError('circuit breaker: need 0 < openMs <= maxOpenMs');
    if (!(this.probeTimeoutMs > 0)) throw new RangeError('circuit breaker: probeTimeoutMs must be > 0');
  }

  get state(): CircuitState {
    this.advance(this.now());
    return this.current;
  }

  tryAcquire(): CircuitAdmission {
    const now = this.now();
    this.advance(now);
    switch (this.current) {
      case 'closed':
        return { allowed: true, probe: false };
      case 'open':
        return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(this.openUntil - now)) };
      case 'half-open':
        if (this.probeSince === undefined || now - this.probeSince >= this.probeTimeoutMs) {
          this.probeSince = now;
          return { allowed: true, probe: true };
        }
        // The probe's answer is pending; the base open time is a fair guess at when to ask again.
        return { allowed: false, retryAfterMs: this.openMs };
    }
  }

  // Results are not tied to permits: in half-open any result (the probe's or a straggler's) decides;
  // while open, stragglers from before the trip are ignored.
  onSuccess(): void {
    this.advance(this.now());
    if (this.current === 'open') return;
    this.failures = 0;
    if (this.current === 'half-open') {
      this.current = 'closed';
      this.reopenCount = 0;
      this.probeSince = undefined;
    }
  }

  onFailure(): void {
    const now = this.now();
    this.advance(now);
    if (this.current === 'open') return;
    if (this.current === 'half-open') {
      this.reopenCount++;
      this.trip(now);
      return;
    }
    this.failures++;
    if (this.failures >= this.threshold) this.trip(now);
  }

  snapshot(): CircuitSnapshot {
    const now = this.now();
    this.advance(now);
    return {
      state: this.current,
      consecutiveFailures: this.failures,
      opens: this.opens,
      openDurationMs: this.openDuration(),
      retryAfterMs: this.current === 'open' ? Math.max(1, Math.ceil(this.openUntil - now)) : 0,
    };
  }

  private openDuration(): number {
    return Math.min(this.maxOpenMs, this.openMs * 2 ** Math.min(this.reopenCount, 30));
  }

  private trip(now: number): void {
    this.current = 'open';
    this.opens++;
    this.failures = 0;
    this.probeSince = undefined;
    this.openUntil = now + this.openDuration();
  }

  private advance(now: number): void {
    if (this.current === 'open' && now >= this.openUntil) this.current = 'half-open';
  }
}
