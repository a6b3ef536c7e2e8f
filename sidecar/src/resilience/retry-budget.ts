// Retry budget per destination (Linkerd/tower style): retries may add retryPercent% of recent requests plus a small floor.

export interface RetryBudgetOptions {
  retryPercent?: number;
  minRetriesPerSecond?: number;
  ttlMs?: number;
  // Window resolution; more buckets track the window more tightly at the same O(1) cost per call.
  buckets?: number;
  now?: () => number;
}

export interface RetryBudgetSnapshot {
  requests: number;
  retries: number;
  // Retries that would be allowed right now.
  available: number;
}

// What must stay true: at every successful withdrawal at time t,
//   retries in (t - ttl, t] <= retryPercent/100 * requests in (t - ttl, t] + minRetriesPerSecond * ttl/1000.
// The window is bucketed, so it errs on the safe side: retries are remembered for one extra bucket
// (ttl + width) and requests are forgotten up to one bucket early (only the newest `buckets` buckets count).
export class RetryBudget {
  private readonly percent: number;
  private readonly reserveTimes100: number;
  private readonly width: number;
  private readonly slots: number;
  private readonly requests: number[];
  private readonly retries: number[];
  private readonly now: () => number;
  // Absolute bucket number (floor(t / width)) of the newest slot; slot i holds bucket number i mod slots.
  private current: number;
  private requestSum = 0;
  private retrySum = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const percent = options.retryPercent ?? 20;
    const minPerSecond = options.minRetriesPerSecond ?? 10;
    const ttlMs = options.ttlMs ?? 10_000;
    const buckets = options.buckets ?? 10;
    if (!Number.isFinite(percent) || percent < 0) throw new RangeError(`retry budget: retryPercent must be >= 0, got ${percent}`);
    if (!Number.isFinite(minPerSecond) || minPerSecond < 0) throw new RangeError(`retry budget: minRetriesPerSecond must be >= 0, got ${minPerSecond}`);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`retry budget: ttlMs must be > 0, got ${ttlMs}`);
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`retry budget: buckets must be a positive integer, got ${buckets}`);
    this.percent = percent;
    // Compared in hundredths so whole-number configs never meet float rounding (0.2 * 3 !== 0.6).
    this.reserveTimes100 = (minPerSecond * ttlMs) / 10;
    this.width = ttlMs / buckets;
    this.slots = buckets + 1;
    this.requests = new Array<number>(this.slots).fill(0);
    this.retries = new Array<number>(this.slots).fill(0);
    this.now = options.now ?? (() => performance.now());
    this.current = Math.floor(this.now() / this.width);
  }

  // Call once per original request, not per retry: retries that funded retries would compound.
  recordRequest(): void {
    const slot = this.advance();
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
    this.requestSum++;
  }

  // Call before each retry; false means the budget is spent and the failure goes back to the caller.
  tryWithdraw(): boolean {
    const slot = this.advance();
    if ((this.retrySum + 1) * 100 > this.percent * this.countedRequests() + this.reserveTimes100) return false;
    this.retries[slot] = (this.retries[slot] ?? 0) + 1;
    this.retrySum++;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.advance();
    const requests = this.countedRequests();
    const available = Math.max(0, Math.floor((this.percent * requests + this.reserveTimes100) / 100 - this.retrySum));
    return { requests, retries: this.retrySum, available };
  }

  // Requests in the newest `slots - 1` buckets; the oldest slot still counts retries, never requests.
  private countedRequests(): number {
    return this.requestSum - (this.requests[this.slotOf(this.current + 1)] ?? 0);
  }

  private advance(): number {
    const bucket = Math.floor(this.now() / this.width);
    // A clock that steps back writes into the newest bucket rather than rewriting history.
    if (bucket > this.current) {
      const steps = Math.min(bucket - this.current, this.slots);
      for (let i = 1; i <= steps; i++) {
        const slot = this.slotOf(this.current + i);
        this.requestSum -= this.requests[slot] ?? 0;
        this.retrySum -= this.retries[slot] ?? 0;
        this.requests[slot] = 0;
        this.retries[slot] = 0;
      }
      this.current = bucket;
    }
    return this.slotOf(this.current);
  }

  private slotOf(bucket: number): number {
    return ((bucket % this.slots) + this.slots) % this.slots;
  }
}
