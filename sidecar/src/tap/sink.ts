// Where the telemetry layers hand finished requests while a tap is on: filtered, rate-bound and batched toward the control plane.
import { TokenBucket } from '../resilience/token-bucket.js';
import type { SidecarMessage, TapEvent, TapFilter } from './protocol.js';

// What the layers already know about a finished request; headers are the request's own object, copied only if asked.
export type TapRecord = Omit<TapEvent, 'time' | 'refusal' | 'headers'> & {
  refusal: string | null;
  headers: Readonly<Record<string, string | string[] | number | undefined>>;
};

export interface TapSinkOptions {
  // This sidecar's service as "name.namespace": what its inbound requests are addressed to.
  localService: string;
  // Events per second this sidecar sends across all taps; beyond it they are dropped and counted.
  ratePerSecond?: number;
  flushIntervalMs?: number;
  now?: () => number;
}

interface ActiveTap {
  filter: TapFilter;
  key: string;
  pending: TapEvent[];
  dropped: number;
}

// Credentials are never relayed, even when headers are asked for.
const REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

export const DEFAULT_TAP_RATE_PER_SECOND = 100;

export class TapSink {
  // The layers' one check per request: false unless some tap is on.
  active = false;
  private readonly taps = new Map<string, ActiveTap>();
  private readonly bucket: TokenBucket;
  private readonly flushIntervalMs: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private send: ((message: SidecarMessage) => boolean) | undefined;

  constructor(private readonly options: TapSinkOptions) {
    const rate = options.ratePerSecond ?? DEFAULT_TAP_RATE_PER_SECOND;
    this.bucket = new TokenBucket({ ratePerSecond: rate, burst: rate, ...(options.now ? { now: options.now } : {}) });
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
  }

  // The stream to the control plane; returns false when a message could not be queued (down, or backed up).
  attach(send: (message: SidecarMessage) => boolean): void {
    this.send = send;
  }

  start(tapId: string, filter: TapFilter): void {
    this.taps.set(tapId, { filter, key: `${filter.service}.${filter.namespace}`, pending: [], dropped: 0 });
    this.active = true;
  }

  stop(tapId: string): void {
    this.taps.delete(tapId);
    this.active = this.taps.size > 0;
  }

  // The stream went away: taps belong to the control plane session, which resends them on reconnect.
  stopAll(): void {
    this.taps.clear();
    this.active = false;
    this.send = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  get tapCount(): number {
    return this.taps.size;
  }

  record(record: TapRecord): void {
    let matched = false;
    for (const tap of this.taps.values()) {
      if (!this.matches(tap, record)) continue;
      matched = true;
      if (!this.bucket.tryTake()) {
        tap.dropped++;
        continue;
      }
      tap.pending.push(toEvent(record, tap.filter.headers));
    }
    if (matched && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flush(), this.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [tapId, tap] of this.taps) {
      if (tap.pending.length === 0 && tap.dropped === 0) continue;
      const events = tap.pending;
      const sent = this.send?.({ type: 'tap-events', tapId, events, dropped: tap.dropped }) ?? false;
      tap.pending = [];
      tap.dropped = sent ? 0 : tap.dropped + events.length;
    }
  }

  private matches(tap: ActiveTap, r: TapRecord): boolean {
    const addressed = r.direction === 'inbound' ? this.options.localService : r.destination;
    if (addressed !== tap.key) return false;
    if (tap.filter.method !== undefined && r.method.toUpperCase() !== tap.filter.method) return false;
    return tap.filter.path === undefined || r.path.startsWith(tap.filter.path);
  }
}

function toEvent(r: TapRecord, withHeaders: boolean): TapEvent {
  const event: TapEvent = {
    time: new Date().toISOString(),
    direction: r.direction,
    method: r.method,
    path: r.path,
    authority: r.authority,
    status: r.status,
    latencyMs: Math.round(r.latencyMs * 1000) / 1000,
    source: r.source,
    destination: r.destination,
    traceId: r.traceId,
  };
  if (r.refusal !== null) event.refusal = r.refusal;
  if (withHeaders) event.headers = copyHeaders(r.headers);
  return event;
}

function copyHeaders(headers: TapRecord['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    // HTTP/2 pseudo-headers repeat method, path and authority.
    if (value === undefined || name.startsWith(':')) continue;
    out[name] = REDACTED.has(name.toLowerCase()) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}
