// Outlier detection per endpoint (Envoy consecutive gateway errors): eject a failing endpoint for a growing time.

export type Outcome = 'success' | 'gateway-error';

export interface OutlierDetectorOptions {
  consecutiveErrors?: number;
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  maxEjectionPercent?: number;
  // While not ejected, the ejection count drops by one per this much time, so old sins stop lengthening ejections.
  ejectionDecayMs?: number;
  now?: () => number;
}

export interface OutlierSnapshot {
  address: string;
  ejected: boolean;
  ejections: number;
  consecutiveErrors: number;
  // In the detector's clock; undefined when not ejected.
  until: number | undefined;
}

interface EndpointHealth {
  // False once discovery stopped listing it; kept only while ejected, so flapping out and in does not reset it.
  present: boolean;
  consecutiveErrors: number;
  ejections: number;
  until: number;
  decayFrom: number;
}

export class OutlierDetector {
  private readonly threshold: number;
  private readonly baseEjectionMs: number;
  private readonly maxEjectionMs: number;
  private readonly maxEjectionPercent: number;
  private readonly ejectionDecayMs: number;
  private readonly now: () => number;
  private readonly endpoints = new Map<string, EndpointHealth>();

  constructor(options: OutlierDetectorOptions = {}) {
    this.threshold = options.consecutiveErrors ?? 5;
    this.baseEjectionMs = options.baseEjectionMs ?? 30_000;
    this.maxEjectionMs = options.maxEjectionMs ?? 300_000;
    this.maxEjectionPercent = options.maxEjectionPercent ?? 50;
    this.ejectionDecayMs = options.ejectionDecayMs ?? this.baseEjectionMs;
    this.now = options.now ?? (() => performance.now());
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw new RangeError(`outlier detector: consecutiveErrors must be a positive integer, got ${this.threshold}`);
    if (!(this.baseEjectionMs > 0) || !(this.maxEjectionMs >= this.baseEjectionMs)) throw new RangeError('outlier detector: need 0 < baseEjectionMs <= maxEjectionMs');
    if (!(this.maxEjectionPercent >= 0 && this.maxEjectionPercent <= 100)) throw new RangeError(`outlier detector: maxEjectionPercent must be in [0, 100], got ${this.maxEjectionPercent}`);
    if (!(this.ejectionDecayMs > 0)) throw new RangeError('outlier detector: ejectionDecayMs must be > 0');
  }

  // The destination's current endpoints: the ejection cap is a share of these.
  setEndpoints(addresses: Iterable<string>): void {
    const now = this.now();
    const current = new Set(addresses);
    for (const [address, health] of this.endpoints) {
      health.present = current.has(address);
      if (!health.present && health.until <= now) this.endpoints.delete(address);
    }
    for (const address of current) if (!this.endpoints.has(address)) this.endpoints.set(address, this.fresh(now));
  }

  record(address: string, outcome: Outcome): void {
    const now = this.now();
    let health = this.endpoints.get(address);
    if (health === undefined) {
      health = this.fresh(now);
      this.endpoints.set(address, health);
    }
    this.decay(health, now);
    // Answers from requests sent before the ejection say nothing new.
    if (health.until > now) return;
    if (outcome === 'success') {
      health.consecutiveErrors = 0;
      return;
    }
    health.consecutiveErrors++;
    // Refused by the cap, the count stays high, so the next error tries again once there is room.
    if (health.consecutiveErrors >= this.threshold && this.mayEject(now)) {
      health.ejections++;
      health.consecutiveErrors = 0;
      health.until = now + Math.min(this.maxEjectionMs, this.baseEjectionMs * health.ejections);
      health.decayFrom = health.until;
    }
  }

  isEjected(address: string): boolean {
    const health = this.endpoints.get(address);
    return health !== undefined && health.until > this.now();
  }

  snapshot(): OutlierSnapshot[] {
    const now = this.now();
    const out: OutlierSnapshot[] = [];
    for (const [address, health] of this.endpoints) {
      this.decay(health, now);
      const ejected = health.until > now;
      out.push({ address, ejected, ejections: health.ejections, consecutiveErrors: health.consecutiveErrors, until: ejected ? health.until : undefined });
    }
    return out;
  }

  // Never above maxEjectionPercent of present endpoints, except that one ejection is allowed whenever there are
  // two or more (Envoy: "at least one host regardless"); and at least one present endpoint always stays in.
  private mayEject(now: number): boolean {
    let total = 0;
    let ejected = 0;
    for (const health of this.endpoints.values()) {
      if (!health.present) continue;
      total++;
      if (health.until > now) ejected++;
    }
    const allowed = Math.max(1, Math.floor((this.maxEjectionPercent * total) / 100));
    return ejected + 1 <= allowed && ejected + 1 < total;
  }

  private decay(health: EndpointHealth, now: number): void {
    if (health.ejections === 0 || health.until > now) return;
    const steps = Math.floor((now - health.decayFrom) / this.ejectionDecayMs);
    if (steps <= 0) return;
    health.ejections = Math.max(0, health.ejections - steps);
    health.decayFrom += steps * this.ejectionDecayMs;
  }

  private fresh(now: number): EndpointHealth {
    return { present: true, consecutiveErrors: 0, ejections: 0, until: Number.NEGATIVE_INFINITY, decayFrom: now };
  }
}
