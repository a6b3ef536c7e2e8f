// The control plane's own tracer: spans go to the embedded trace store (and an OTLP collector if given); store commits become admin.apply spans.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Logger, Result } from '@tsmesh/proto';
import type { ConfigStore, CommitResult, StoreError } from '../store/index.js';
import type { TraceSpan, TraceStore } from './trace-store.js';

export const CONTROL_PLANE_SERVICE = 'mesh-control-plane';

export interface ControlPlaneTracingOptions {
  store: TraceStore;
  // An OTLP/HTTP protobuf collector (".../v1/traces" is appended unless present); spans go there too.
  otlpEndpoint?: string | undefined;
  spiffeId: string;
  logger: Logger;
  // Called when telemetry itself throws; the work it observed goes on.
  onError: () => void;
}

const KIND_NAMES = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

const hrToNs = ([seconds, nanos]: [number, number]): bigint => BigInt(seconds) * 1_000_000_000n + BigInt(nanos);

export function fromReadable(span: ReadableSpan): TraceSpan {
  const context = span.spanContext();
  const service = span.resource.attributes['service.name'];
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? '',
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? 'UNSPECIFIED',
    service: typeof service === 'string' ? service : CONTROL_PLANE_SERVICE,
    startTimeUnixNano: hrToNs(span.startTime),
    endTimeUnixNano: hrToNs(span.endTime),
    attributes: { ...span.attributes },
    status: { code: span.status.code, message: span.status.message ?? '' },
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
  };
}

// Hands each finished span to the embedded store in-process: no serialization, no queue to bound.
class EmbeddedStoreProcessor implements SpanProcessor {
  constructor(
    private readonly store: TraceStore,
    private readonly onError: () => void,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    try {
      this.store.add([fromReadable(span)]);
    } catch {
      this.onError();
    }
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

function otlpUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

export class ControlPlaneTracing {
  readonly tracer: Tracer;
  private readonly provider: TracerProvider;
  // The admin.apply span of the store commit whose listeners are running (commit listeners run inside the commit).
  private readonly change = new AsyncLocalStorage<SpanContext>();

  constructor(private readonly options: ControlPlaneTracingOptions) {
    const processors: SpanProcessor[] = [new EmbeddedStoreProcessor(options.store, options.onError)];
    if (options.otlpEndpoint) {
      // The control plane makes a few spans per change and push, so the SDK's batch processor suffices here.
      processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: otlpUrl(options.otlpEndpoint), timeoutMillis: 10_000, concurrencyLimit: 2 }), maxQueueSize: 2048 }));
    }
    // Never registered globally: tests run a control plane and sidecars in one process.
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': CONTROL_PLANE_SERVICE, 'mesh.identity': options.spiffeId }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('tsmesh-control-plane');
  }

  // The apply that caused the change being handled now, if any (read from a store commit listener).
  currentChange(): SpanContext | undefined {
    return this.change.getStore();
  }

  // Every commit and rollback becomes a span, active while the store calls its commit listeners.
  instrumentStore(store: ConfigStore): void {
    const commit = store.commit.bind(store);
    const rollback = store.rollback.bind(store);
    store.commit = (changes, meta) =>
      this.traced('admin.apply', { 'mesh.change.actor': meta.actor, 'mesh.change.message': meta.message ?? '', 'mesh.change.count': changes.length }, () => commit(changes, meta));
    store.rollback = (revision, meta) =>
      this.traced('admin.rollback', { 'mesh.change.actor': meta.actor, 'mesh.change.message': meta.message ?? '', 'mesh.rollback.to': revision }, () => rollback(revision, meta));
  }

  private traced(name: string, attributes: Attributes, run: () => Promise<Result<CommitResult, StoreError>>): Promise<Result<CommitResult, StoreError>> {
    let span: Span;
    try {
      span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, ROOT_CONTEXT);
    } catch {
      this.options.onError();
      return run();
    }
    const result = this.change.run(span.spanContext(), run);
    result
      .then(
        (outcome) => {
          if (outcome.ok) {
            span.setAttribute('mesh.store.revision', outcome.value.revision);
            span.setAttribute('mesh.change.keys', outcome.value.changed.filter((c) => c.action !== 'unchanged').slice(0, 50).map((c) => `${c.action} ${c.key}`));
          } else span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
          span.end();
        },
        (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
          span.end();
        },
      )
      .catch(() => this.options.onError());
    return result;
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    try {
      await this.provider.shutdown();
    } catch (error) {
      this.options.logger.warn('could not flush control plane spans', { error: String(error) });
    }
  }
}
