// Peak-EWMA latency estimate (Finagle/Linkerd): jumps to a new peak at once, decays toward lower samples with elapsed time.

export interface PeakEwmaOptions {
  decayMs?: number;
  // Where a new endpoint starts; pessimistic on purpose so a new endpoint is not flooded before it is measured.
  defaultRttMs: number;
  now?: () => number;
}

// The estimate moves only on observations, so it always lies within the samples seen; idleness is priced in cost().
export class PeakEwma {
  private rttMs: number;
  private stamp: number;
  private readonly decayMs: number;
  private readonly now: () => number;

  constructor(options: PeakEwmaOptions) {
    this.decayMs = options.decayMs ?? 10_000;
    if (!Number.isFinite(this.decayMs) || this.decayMs <= 0) throw new RangeError(`peak ewma: decayMs must be > 0, got ${this.decayMs}`);
    if (!Number.isFinite(options.defaultRttMs) || options.defaultRttMs < 0) throw new RangeError(`peak ewma: defaultRttMs must be >= 0, got ${options.defaultRttMs}`);
    this.now = options.now ?? (() => performance.now());
    this.rttMs = options.defaultRttMs;
    this.stamp = this.now();
  }

  observe(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    const t = this.now();
    const elapsed = Math.max(0, t - this.stamp);
    this.stamp = Math.max(this.stamp, t);
    if (rttMs > this.rttMs) {
      this.rttMs = rttMs;
      return;
    }
    const decay = Math.exp(-elapsed / this.decayMs);
    this.rttMs = this.rttMs * decay + rttMs * (1 - decay);
  }

  estimate(): number {
    return this.rttMs;
  }

  // With nothing in flight the cost decays toward zero with the time since the last answer (tower's read-time decay),
  // so a never-tried or once-slow endpoint is probed eventually instead of being starved forever. With anything in
  // flight it is the plain estimate x (pending + 1), so that probe does not become a flood before it answers.
  cost(pending: number): number {
    if (pending > 0) return this.rttMs * (pending + 1);
    return this.rttMs * Math.exp(-Math.max(0, this.now() - this.stamp) / this.decayMs);
  }
}
