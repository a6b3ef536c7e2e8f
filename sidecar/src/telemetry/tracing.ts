// The sidecar's tracer: explicit server/client spans on the OpenTelemetry SDK, W3C context out, W3C or B3 in, OTLP export.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, isSpanContextValid, trace, type AttributeValue, type Attributes, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  SamplingDecision,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { BoundedBatchSpanProcessor, DEFAULT_SPAN_BATCH, type SpanBatchOptions } from './span-processor.js';
import { loadOtlpExporter } from './otlp-exporter.js';
import { PresetTraceIds, randomSpanId } from './trace-ids.js';
import { extractParent, formatTraceParent, injectValid, type HeaderBag } from './trace-context.js';

export type OtlpProtocol = 'http/protobuf' | 'grpc';

export interface OtlpExporterConfig {
  protocol: OtlpProtocol;
  // http/protobuf: the collector's base URL (".../v1/traces" is appended unless present); grpc: http://host:port.
  endpoint: string;
}

// Jaeger's (and the OpenTelemetry Collector's) OTLP ports.
export const DEFAULT_OTLP_ENDPOINTS: Record<OtlpProtocol, string> = {
  'http/protobuf': 'http://127.0.0.1:4318',
  grpc: 'http://127.0.0.1:4317',
};

// 1%: head sampling for root traces only; a caller (or app) that sampled is always followed.
export const DEFAULT_SAMPLING_PERCENT = 1;

export interface TracingConfig {
  serviceName: string;
  // The workload's SPIFFE ID, a resource attribute on every span.
  spiffeId: string;
  serviceNamespace?: string;
  instanceId?: string;
  // undefined: spans are still created (context propagates, access logs carry trace ids) but not exported.
  exporter: OtlpExporterConfig | undefined;
  // 0-100, for traces that start here; a sampled parent is always honoured.
  samplingPercent?: number;
  batch?: Partial<SpanBatchOptions>;
}

// How a span ends: the status the caller saw, and the refusal when the mesh answered for the peer.
export interface SpanEnd {
  status: number;
  // gRPC calls: grpc-status from the trailers (or a trailers-only answer).
  grpcStatus?: string | undefined;
  error?: { code: string; reason: string } | undefined;
  attrs?: Attributes | undefined;
}

// A span as the layers see it. `span` is the SDK's span for a sampled one; an unsampled span has no SDK
// object at all, only its ids, which are all the next hop needs (see Tracing.start).
export class SpanHandle {
  private ended = false;
  private ctx: Context | undefined;
  private header: string | undefined;

  constructor(
    readonly span: Span | undefined,
    readonly spanContext: SpanContext,
    private readonly kind: SpanKind,
    // Whether spanContext passes isSpanContextValid: known where the ids were made or checked, so not checked again per request.
    readonly valid: boolean,
  ) {}

  // What makes the next hop a child of this span; built once.
  get traceparent(): string | undefined {
    if (!this.valid) return undefined;
    return (this.header ??= formatTraceParent(this.spanContext));
  }

  get traceId(): string {
    return this.spanContext.traceId;
  }

  get spanId(): string {
    return this.spanContext.spanId;
  }

  get sampled(): boolean {
    return this.span !== undefined && this.span.isRecording();
  }

  // The context children start from; built once, only when a child or inject asks for it.
  get context(): Context {
    return (this.ctx ??= trace.setSpan(ROOT_CONTEXT, this.span ?? trace.wrapSpanContext(this.spanContext)));
  }

  set(name: string, value: AttributeValue | null | undefined): void {
    if (value !== null && value !== undefined && this.span?.isRecording() === true) this.span.setAttribute(name, value);
  }

  updateName(name: string): void {
    if (this.span?.isRecording() === true) this.span.updateName(name);
  }

  end(result: SpanEnd): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span === undefined) return;
    if (!span.isRecording()) {
      span.end();
      return;
    }
    if (result.status > 0) span.setAttribute('http.response.status_code', result.status);
    if (result.attrs) span.setAttributes(result.attrs);
    if (result.error) {
      span.setAttribute('mesh.refusal.code', result.error.code);
      span.setAttribute('mesh.refusal.reason', result.error.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.reason });
    } else if (result.status >= 500) {
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  get spanKind(): SpanKind {
    return this.kind;
  }
}

// The trace id comes from a valid parent or from randomHex (never all zeros), so the ids are valid.
function unsampledSpan(traceId: string, traceState: SpanContext['traceState'], kind: SpanKind): SpanHandle {
  const ids: SpanContext = { traceId, spanId: randomSpanId(), traceFlags: TraceFlags.NONE };
  if (traceState !== undefined) ids.traceState = traceState;
  return new SpanHandle(undefined, ids, kind, true);
}

// The decision for a trace that starts here.
function rootSamplerFor(percent: number): Sampler {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new RangeError(`tracing: samplingPercent must be 0-100, got ${percent}`);
  return percent >= 100 ? new AlwaysOnSampler() : percent <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(percent / 100);
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});
const NO_LINKS: [] = [];

// The provider's sampler is fixed at construction; this one delegates, so MeshConfig can change the rate live.
class AdjustableSampler implements Sampler {
  constructor(private inner: Sampler) {}

  set(inner: Sampler): void {
    this.inner = inner;
  }

  shouldSample(...args: Parameters<Sampler['shouldSample']>): ReturnType<Sampler['shouldSample']> {
    return this.inner.shouldSample(...args);
  }

  toString(): string {
    return `Adjustable{${this.inner.toString()}}`;
  }
}

export class Tracing {
  private readonly sampler: AdjustableSampler;
  // What the ParentBased sampler delegates to when there is no parent: asked directly for a new trace.
  private rootSampler: Sampler;
  private samplingPercent: number;
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly processor: BoundedBatchSpanProcessor | undefined;
  private readonly ids = new PresetTraceIds();

  // The configured exporter is loaded first, so a bad endpoint fails start-up rather than the first export.
  static async create(config: TracingConfig): Promise<Tracing> {
    const batch = { ...DEFAULT_SPAN_BATCH, ...config.batch };
    // A bad rate is refused before an exporter exists that would then need closing.
    const rootSampler = rootSamplerFor(config.samplingPercent ?? DEFAULT_SAMPLING_PERCENT);
    const exporter = config.exporter ? await loadOtlpExporter(config.exporter, batch.exportTimeoutMs) : undefined;
    return new Tracing(config, batch, rootSampler, exporter);
  }

  private constructor(
    readonly config: TracingConfig,
    batch: SpanBatchOptions,
    rootSampler: Sampler,
    exporter: SpanExporter | undefined,
  ) {
    this.processor = exporter ? new BoundedBatchSpanProcessor(exporter, batch) : undefined;
    const resource: Attributes = { 'service.name': config.serviceName, 'mesh.identity': config.spiffeId };
    if (config.serviceNamespace !== undefined) resource['service.namespace'] = config.serviceNamespace;
    if (config.instanceId !== undefined) resource['service.instance.id'] = config.instanceId;
    this.samplingPercent = config.samplingPercent ?? DEFAULT_SAMPLING_PERCENT;
    this.rootSampler = rootSampler;
    this.sampler = new AdjustableSampler(new ParentBasedSampler({ root: this.rootSampler }));
    // A provider per sidecar, never registered globally: tests run several sidecars in one process.
    this.provider = new TracerProvider({
      resource: resourceFromAttributes(resource),
      sampler: this.sampler,
      idGenerator: this.ids,
      spanProcessors: this.processor ? [this.processor] : [],
    });
    this.tracer = this.provider.getTracer('tsmesh-sidecar');
  }

  // For traces that start here; a sampled parent is still always followed.
  setSamplingPercent(percent: number): void {
    if (percent === this.samplingPercent) return;
    const root = rootSamplerFor(percent);
    this.sampler.set(new ParentBasedSampler({ root }));
    this.rootSampler = root;
    this.samplingPercent = percent;
  }

  get currentSamplingPercent(): number {
    return this.samplingPercent;
  }

  // Spans lost before reaching the collector (queue full, export failed or timed out).
  get droppedSpans(): number {
    return this.processor?.dropped ?? 0;
  }

  get exportedSpans(): number {
    return this.processor?.exported ?? 0;
  }

  // An inbound request: continues the caller's context (W3C, else B3), or starts a trace.
  startServerSpan(headers: HeaderBag, attrs?: Attributes, name = 'inbound'): SpanHandle {
    return this.start(name, SpanKind.SERVER, extractParent(headers), attrs);
  }

  // The app's outbound request as a whole: INTERNAL, so span-derived service metrics do not count the app's calls as requests it served.
  startOutboundSpan(headers: HeaderBag, attrs?: Attributes, name = 'outbound'): SpanHandle {
    return this.start(name, SpanKind.INTERNAL, extractParent(headers), attrs);
  }

  // One try of an outbound request, a child of the outbound span (or of the caller's ids, or a new trace).
  startClientSpan(parent: SpanHandle | SpanContext | undefined, attrs?: Attributes, name = 'attempt'): SpanHandle {
    const parentIds = parent instanceof SpanHandle ? (parent.valid ? parent : undefined) : parent !== undefined && isSpanContextValid(parent) ? parent : undefined;
    return this.start(name, SpanKind.CLIENT, parentIds, attrs);
  }

  // At the default 1 % nearly every span is unsampled, and the SDK would still build a span, a context
  // and a sampling result for each. The sampler is always ParentBased over rootSamplerFor's, which never records
  // under an unsampled parent, so that case needs no SDK at all; a new trace asks the sampler first, with
  // the trace id the SDK is then made to use (PresetTraceIds), so the decision is the sampler's own.
  // parent: valid ids or none (extractParent returns only valid ids; startClientSpan checks the rest).
  private start(name: string, kind: SpanKind, parent: SpanHandle | SpanContext | undefined, attrs: Attributes | undefined): SpanHandle {
    const parentIds = parent instanceof SpanHandle ? parent.spanContext : parent;
    let parentContext: Context = ROOT_CONTEXT;
    if (parentIds !== undefined) {
      if ((parentIds.traceFlags & TraceFlags.SAMPLED) === 0) return unsampledSpan(parentIds.traceId, parentIds.traceState, kind);
      parentContext = parent instanceof SpanHandle ? parent.context : trace.setSpanContext(ROOT_CONTEXT, parentIds);
    } else {
      const traceId = this.ids.generateTraceId();
      // What the ParentBased sampler would do without a parent, without its context lookups on every request.
      if (this.rootSampler.shouldSample(ROOT_CONTEXT, traceId, name, kind, attrs ?? NO_ATTRIBUTES, NO_LINKS).decision === SamplingDecision.NOT_RECORD) return unsampledSpan(traceId, undefined, kind);
      this.ids.preset(traceId);
    }
    const span = this.tracer.startSpan(name, { kind }, parentContext);
    // Normally the SDK took the preset id; never let it reach a later trace if it did not.
    this.ids.preset(undefined);
    if (attrs !== undefined && span.isRecording()) span.setAttributes(attrs);
    const ids = span.spanContext();
    return new SpanHandle(span, ids, kind, isSpanContextValid(ids));
  }

  // Writes traceparent (and tracestate when there is one) so the next hop continues from this span.
  inject(span: SpanHandle, headersOut: HeaderBag): void {
    const traceparent = span.traceparent;
    if (traceparent !== undefined) injectValid(span.spanContext, traceparent, headersOut);
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
