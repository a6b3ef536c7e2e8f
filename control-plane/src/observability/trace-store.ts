// The embedded trace store: recent spans in memory, bounded in traces and spans, oldest trace evicted first.
import type { DecodedSpan, SpanKindName } from '@tsmesh/proto';

export interface TraceSpan {
  traceId: string;
  spanId: string;
  // '' for a root span.
  parentSpanId: string;
  name: string;
  kind: SpanKindName;
  // The resource's service.name ('unknown' when the exporter sent none).
  service: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, unknown>;
  // OTLP StatusCode: 0 unset, 1 ok, 2 error.
  status: { code: number; message: string };
  links: Array<{ traceId: string; spanId: string }>;
}

export interface TraceSummary {
  traceId: string;
  rootName: string;
  rootService: string;
  services: string[];
  startTimeUnixMs: number;
  durationMs: number;
  spanCount: number;
  error: boolean;
}

// A span as /api/traces/<id> serves it: times as offsets from the trace's start, so clients need no bigint.
export type SpanJson = Omit<TraceSpan, 'startTimeUnixNano' | 'endTimeUnixNano'> & {
  startTimeUnixNano: string;
  startOffsetMs: number;
  durationMs: number;
};

export interface TraceJson extends TraceSummary {
  spans: SpanJson[];
}

export interface TraceStoreOptions {
  maxTraces?: number;
  maxSpans?: number;
  // One runaway trace may not take the whole store.
  maxSpansPerTrace?: number;
}

export interface TraceStoreStats {
  traces: number;
  spans: number;
  received: number;
  // Spans refused because their trace was at maxSpansPerTrace.
  dropped: number;
  evictedTraces: number;
}

interface StoredTrace {
  spans: Map<string, TraceSpan>;
  start: bigint;
  end: bigint;
}

export const STATUS_ERROR = 2;

const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

// Attribute values as JSON can carry them: 64-bit integers past 2^53 as strings, bytes as hex.
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

export function fromDecoded(span: DecodedSpan): TraceSpan {
  const service = span.resource['service.name'];
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    service: typeof service === 'string' && service ? service : 'unknown',
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano,
    attributes: plain(span.attributes) as Record<string, unknown>,
    status: { ...span.status },
    links: span.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
  };
}

export class TraceStore {
  private readonly traces = new Map<string, StoredTrace>();
  private spanCount = 0;
  private received = 0;
  private dropped = 0;
  private evicted = 0;
  private readonly maxTraces: number;
  private readonly maxSpans: number;
  private readonly maxSpansPerTrace: number;

  constructor(options: TraceStoreOptions = {}) {
    this.maxTraces = Math.max(1, options.maxTraces ?? 1_000);
    this.maxSpans = Math.max(1, options.maxSpans ?? 50_000);
    this.maxSpansPerTrace = Math.min(this.maxSpans, Math.max(1, options.maxSpansPerTrace ?? 10_000));
  }

  add(spans: readonly TraceSpan[]): void {
    for (const span of spans) {
      this.received++;
      if (!/^[0-9a-f]{32}$/.test(span.traceId) || !span.spanId) {
        this.dropped++;
        continue;
      }
      let trace = this.traces.get(span.traceId);
      if (!trace) {
        trace = { spans: new Map(), start: span.startTimeUnixNano, end: span.endTimeUnixNano };
        this.traces.set(span.traceId, trace);
      }
      // An exporter that retries sends the same span twice; keep one.
      if (trace.spans.has(span.spanId)) continue;
      if (trace.spans.size >= this.maxSpansPerTrace) {
        this.dropped++;
        continue;
      }
      trace.spans.set(span.spanId, span);
      this.spanCount++;
      if (span.startTimeUnixNano < trace.start) trace.start = span.startTimeUnixNano;
      if (span.endTimeUnixNano > trace.end) trace.end = span.endTimeUnixNano;
      this.evict(span.traceId);
    }
  }

  // Oldest first (the order traces were first seen), never the trace just written to.
  private evict(keep: string): void {
    for (const [traceId, trace] of this.traces) {
      if (this.traces.size <= this.maxTraces && this.spanCount <= this.maxSpans) return;
      if (traceId === keep) continue;
      this.traces.delete(traceId);
      this.spanCount -= trace.spans.size;
      this.evicted++;
    }
  }

  // Newest first by start time.
  list(limit = 20): TraceSummary[] {
    const summaries = [...this.traces.entries()].map(([traceId, trace]) => summarize(traceId, trace));
    summaries.sort((a, b) => b.startTimeUnixMs - a.startTimeUnixMs);
    return summaries.slice(0, Math.max(0, limit));
  }

  get(traceId: string): TraceJson | undefined {
    const trace = this.traces.get(traceId.toLowerCase());
    if (!trace) return undefined;
    const spans = [...trace.spans.values()].sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0));
    return {
      ...summarize(traceId.toLowerCase(), trace),
      spans: spans.map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        kind: s.kind,
        service: s.service,
        startTimeUnixNano: s.startTimeUnixNano.toString(),
        startOffsetMs: nsToMs(s.startTimeUnixNano - trace.start),
        durationMs: nsToMs(s.endTimeUnixNano - s.startTimeUnixNano),
        attributes: s.attributes,
        status: s.status,
        links: s.links,
      })),
    };
  }

  get stats(): TraceStoreStats {
    return { traces: this.traces.size, spans: this.spanCount, received: this.received, dropped: this.dropped, evictedTraces: this.evicted };
  }
}

function summarize(traceId: string, trace: StoredTrace): TraceSummary {
  const spans = [...trace.spans.values()];
  // The root: a span without a parent, else (its parent not received yet) the earliest one.
  const root = spans.find((s) => !s.parentSpanId) ?? spans.reduce((a, b) => (b.startTimeUnixNano < a.startTimeUnixNano ? b : a));
  return {
    traceId,
    rootName: root.name,
    rootService: root.service,
    services: [...new Set(spans.map((s) => s.service))].sort(),
    startTimeUnixMs: nsToMs(trace.start),
    durationMs: nsToMs(trace.end - trace.start),
    spanCount: spans.length,
    error: spans.some((s) => s.status.code === STATUS_ERROR),
  };
}
