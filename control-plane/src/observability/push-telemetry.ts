// Push telemetry for the discovery streams: a config.push span per response, linked to the apply that caused it, and the change-to-ACK time.
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { typeLabel, type ControlPlaneMetrics } from './metrics.js';

// What a discovery stream reports; every method is safe to call and never throws.
export interface StreamObserver {
  // Something this sidecar is subscribed to changed; a push will follow (or `unchanged`).
  changed(typeUrl: string): void;
  // The push that followed a change found nothing new for this sidecar.
  unchanged(typeUrl: string): void;
  pushed(typeUrl: string, version: string, resources: number): void;
  acked(typeUrl: string, version: string): void;
  nacked(typeUrl: string, version: string, error: string): void;
  closed(): void;
}

export interface PushObserver {
  stream(nodeId: string): StreamObserver;
}

export const NOOP_STREAM_OBSERVER: StreamObserver = {
  changed: () => undefined,
  unchanged: () => undefined,
  pushed: () => undefined,
  acked: () => undefined,
  nacked: () => undefined,
  closed: () => undefined,
};

// Changes not yet ACKed: when the first was seen, and the applies that made them.
interface Cause {
  at: number;
  links: SpanContext[];
}

interface TypeState {
  // Changes seen since the last push.
  pending: Cause | undefined;
  // Changes sent and not yet answered; a newer push before the answer takes them over.
  inflight: Cause | undefined;
  span: Span | undefined;
}

// Links kept per push: a burst of applies within one debounce window is rarely more.
const MAX_LINKS = 16;

export interface PushTelemetryOptions {
  tracer: Tracer;
  metrics: ControlPlaneMetrics;
  // The apply span active while a store commit notifies its listeners.
  currentChange: () => SpanContext | undefined;
  now?: () => number;
}

export class PushTelemetry implements PushObserver {
  private readonly now: () => number;

  constructor(private readonly options: PushTelemetryOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  stream(nodeId: string): StreamObserver {
    const types = new Map<string, TypeState>();
    const state = (typeUrl: string): TypeState => {
      let s = types.get(typeUrl);
      if (!s) types.set(typeUrl, (s = { pending: undefined, inflight: undefined, span: undefined }));
      return s;
    };
    const { tracer, metrics } = this.options;
    const safe =
      <A extends unknown[]>(f: (...args: A) => void) =>
      (...args: A): void => {
        try {
          f(...args);
        } catch {
          metrics.telemetryError();
        }
      };
    const endSpan = (s: TypeState, outcome: string, error?: string): void => {
      const span = s.span;
      if (!span) return;
      s.span = undefined;
      span.setAttribute('mesh.push.outcome', outcome);
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    };
    return {
      changed: safe((typeUrl: string) => {
        const s = state(typeUrl);
        s.pending ??= { at: this.now(), links: [] };
        const link = this.options.currentChange();
        if (link && s.pending.links.length < MAX_LINKS && !s.pending.links.some((l) => l.spanId === link.spanId)) s.pending.links.push(link);
      }),
      unchanged: safe((typeUrl: string) => {
        state(typeUrl).pending = undefined;
      }),
      pushed: safe((typeUrl: string, version: string, resources: number) => {
        const s = state(typeUrl);
        endSpan(s, 'superseded');
        const earlier = s.inflight;
        const cause = earlier && s.pending ? { at: earlier.at, links: [...earlier.links, ...s.pending.links.filter((l) => !earlier.links.some((e) => e.spanId === l.spanId))].slice(0, MAX_LINKS) } : (earlier ?? s.pending);
        s.inflight = cause;
        s.pending = undefined;
        metrics.pushed(typeUrl);
        const links: Link[] = (cause?.links ?? []).map((context) => ({ context }));
        s.span = tracer.startSpan(
          'config.push',
          {
            kind: SpanKind.PRODUCER,
            links,
            attributes: {
              'mesh.push.type': typeLabel(typeUrl),
              'mesh.push.type_url': typeUrl,
              'mesh.push.version': version,
              'mesh.push.resources': resources,
              'mesh.node.id': nodeId,
              // subscription: the sidecar asked (first request, new names); change: the config or endpoints changed.
              'mesh.push.cause': cause ? 'change' : 'subscription',
            },
          },
          ROOT_CONTEXT,
        );
      }),
      acked: safe((typeUrl: string) => {
        const s = state(typeUrl);
        endSpan(s, 'ack');
        if (s.inflight) metrics.converged(typeUrl, (this.now() - s.inflight.at) / 1000);
        s.inflight = undefined;
      }),
      nacked: safe((typeUrl: string, _version: string, error: string) => {
        const s = state(typeUrl);
        metrics.nacked(typeUrl);
        endSpan(s, 'nack', error);
        // A refused version never converges; the next change starts a new clock.
        s.inflight = undefined;
      }),
      closed: safe(() => {
        for (const s of types.values()) endSpan(s, 'disconnected');
        types.clear();
      }),
    };
  }
}
