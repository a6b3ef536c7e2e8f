// The sidecar's Prometheus metrics: typed recording methods for the layers, text exposition for the admin port's /metrics.
import { LabeledCounter, LabeledGauge, escapeLabel, formatNumber } from './metrics-family.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Direction = 'inbound' | 'outbound';
export type CircuitState = 'closed' | 'open' | 'half-open';
export type TlsHandshakeResult = 'success' | 'handshake_error' | 'identity_rejected';

// A proxy's latency spans sub-millisecond local hops to multi-second timeouts.
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const OVERFLOW_LABEL = 'other';
export const DEFAULT_MAX_LABEL_SETS = 1000;

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

// One (direction, source, destination, route) combination: its latency histogram and one request counter per status class.
class RequestSeries {
  readonly counts = new Float64Array(STATUS_CLASSES.length);
  readonly buckets = new Float64Array(LATENCY_BUCKETS_SECONDS.length);
  sum = 0;
  count = 0;

  constructor(
    readonly labels: string,
    readonly key: RequestSeriesKey,
    readonly overflow = false,
  ) {}

  observe(status: number, seconds: number): void {
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    this.counts[cls]!++;
    this.count++;
    this.sum += seconds;
    const bounds = LATENCY_BUCKETS_SECONDS;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }
}

type Level<T> = Map<string, T>;

export interface RequestSeriesKey {
  direction: string;
  source: string;
  destination: string;
  route: string;
}

// One series as plain numbers, for `meshctl stat`: buckets are per bucket (not cumulative), bounded by LATENCY_BUCKETS_SECONDS.
export interface RequestSeriesSnapshot extends RequestSeriesKey {
  statusClasses: Record<string, number>;
  buckets: number[];
  count: number;
  sumSeconds: number;
}

export interface MetricsOptions {
  // Distinct label sets per metric family; past it new combinations are counted under "other".
  maxLabelSets?: number;
}

export class MeshMetrics {
  private readonly maxLabelSets: number;
  // direction -> source -> destination -> route: nested maps, so a repeated label set costs four lookups and no string building.
  private readonly requests = new Map<string, Level<Level<Level<RequestSeries>>>>();
  private readonly requestOrder: RequestSeries[] = [];
  private readonly requestOverflow = new Map<string, RequestSeries>();

  private readonly retries: LabeledCounter;
  private readonly retryBudgetExhausted: LabeledCounter;
  private readonly outlierEjections: LabeledCounter;
  private readonly circuit: LabeledGauge;
  private readonly poolSaturated: LabeledCounter;
  private readonly rateLimited: LabeledCounter;
  private loadShed = 0;
  private readonly tlsHandshakes: LabeledCounter;
  private readonly grpcResponses: LabeledCounter;
  private passthroughConnections = 0;
  private certificateExpirySeconds: number | undefined;
  private telemetryErrors = 0;
  private accessLogDropped: () => number = () => 0;
  private spansDropped: () => number = () => 0;

  constructor(options: MetricsOptions = {}) {
    this.maxLabelSets = options.maxLabelSets ?? DEFAULT_MAX_LABEL_SETS;
    const cap = this.maxLabelSets;
    this.retries = new LabeledCounter('mesh_retries_total', 'Retries sent (tries after the first), by destination service.', ['destination'], cap);
    this.retryBudgetExhausted = new LabeledCounter('mesh_retry_budget_exhausted_total', 'Retries not sent because the retry budget was spent.', ['destination'], cap);
    this.outlierEjections = new LabeledCounter('mesh_outlier_ejections_total', 'Endpoints ejected by outlier detection.', ['destination'], cap);
    this.circuit = new LabeledGauge('mesh_circuit_state', 'Circuit breaker state per destination: 1 for the current state, 0 for the others.', ['destination', 'state'], cap * CIRCUIT_STATES.length);
    this.poolSaturated = new LabeledCounter('mesh_pool_saturated_total', 'Requests refused or queued because the connection pool was at its limit.', ['destination'], cap);
    this.rateLimited = new LabeledCounter('mesh_rate_limited_total', 'Requests refused by a rate limit.', ['direction'], 2);
    this.tlsHandshakes = new LabeledCounter('mesh_tls_handshakes_total', 'mTLS handshakes by outcome.', ['direction', 'result'], 6);
    this.grpcResponses = new LabeledCounter('mesh_grpc_responses_total', 'gRPC responses by direction, destination service and grpc-status (the result a gRPC caller sees).', ['direction', 'destination', 'grpc_status'], cap);
  }

  // A gRPC call's outcome: grpc-status from its trailers (or a trailers-only answer).
  grpcCompleted(direction: Direction, destination: string, grpcStatus: string): void {
    this.grpcResponses.inc3(direction, destination, grpcStatus);
  }

  // An intercepted connection to an address outside the mesh, sent on as dialled.
  passthroughOne(): void {
    this.passthroughConnections++;
  }

  // Called once per request when its response has finished (or it failed); durationMs is first byte in to last byte out.
  requestCompleted(direction: Direction, source: string, destination: string, route: string, status: number, durationMs: number): void {
    let bySource = this.requests.get(direction);
    if (bySource === undefined) this.requests.set(direction, (bySource = new Map<string, Level<Level<RequestSeries>>>()));
    let byDestination = bySource.get(source);
    let byRoute = byDestination?.get(destination);
    let series = byRoute?.get(route);
    if (series === undefined) {
      series = this.newRequestSeries(direction, source, destination, route);
      // The overflow series is never stored under the caller's labels, or the maps themselves would grow without bound.
      if (!series.overflow) {
        if (byDestination === undefined) bySource.set(source, (byDestination = new Map<string, Level<RequestSeries>>()));
        if (byRoute === undefined) byDestination.set(destination, (byRoute = new Map<string, RequestSeries>()));
        byRoute.set(route, series);
      }
    }
    series.observe(status, durationMs / 1000);
  }

  private newRequestSeries(direction: string, source: string, destination: string, route: string): RequestSeries {
    if (this.requestOrder.length >= this.maxLabelSets) {
      let overflow = this.requestOverflow.get(direction);
      if (overflow === undefined) {
        const key = { direction, source: OVERFLOW_LABEL, destination: OVERFLOW_LABEL, route: OVERFLOW_LABEL };
        overflow = new RequestSeries(`direction="${escapeLabel(direction)}",source="${OVERFLOW_LABEL}",destination="${OVERFLOW_LABEL}",route="${OVERFLOW_LABEL}"`, key, true);
        this.requestOverflow.set(direction, overflow);
      }
      return overflow;
    }
    const series = new RequestSeries(`direction="${escapeLabel(direction)}",source="${escapeLabel(source)}",destination="${escapeLabel(destination)}",route="${escapeLabel(route)}"`, { direction, source, destination, route });
    this.requestOrder.push(series);
    return series;
  }

  retry(destination: string): void {
    this.retries.inc1(destination);
  }

  retryBudgetExhaustedFor(destination: string): void {
    this.retryBudgetExhausted.inc1(destination);
  }

  outlierEjected(destination: string): void {
    this.outlierEjections.inc1(destination);
  }

  circuitState(destination: string, state: CircuitState): void {
    for (const s of CIRCUIT_STATES) this.circuit.set2(destination, s, s === state ? 1 : 0);
  }

  poolSaturatedFor(destination: string): void {
    this.poolSaturated.inc1(destination);
  }

  rateLimitedFor(direction: Direction): void {
    this.rateLimited.inc1(direction);
  }

  loadShedOne(): void {
    this.loadShed++;
  }

  tlsHandshake(direction: Direction, result: TlsHandshakeResult): void {
    this.tlsHandshakes.inc2(direction, result);
  }

  // The current workload certificate's notAfter; call on every rotation.
  certificateExpiry(notAfter: Date): void {
    this.certificateExpirySeconds = notAfter.getTime() / 1000;
  }

  // An exception inside telemetry, counted and swallowed so the request goes on.
  telemetryError(): void {
    this.telemetryErrors++;
  }

  // mesh_access_log_dropped_total is read from the access log at scrape time.
  accessLogDroppedFrom(read: () => number): void {
    this.accessLogDropped = read;
  }

  // mesh_spans_dropped_total is read from the tracer at scrape time.
  spansDroppedFrom(read: () => number): void {
    this.spansDropped = read;
  }

  // Every request series as numbers; a copy, so the caller may hold it while requests go on.
  requestSnapshot(): RequestSeriesSnapshot[] {
    return [...this.requestOrder, ...this.requestOverflow.values()].map((s) => ({
      ...s.key,
      statusClasses: Object.fromEntries(STATUS_CLASSES.map((cls, i) => [cls, s.counts[i]!])),
      buckets: Array.from(s.buckets),
      count: s.count,
      sumSeconds: s.sum,
    }));
  }

  render(): string {
    const out: string[] = [];
    this.renderRequests(out);
    this.retries.render(out);
    this.retryBudgetExhausted.render(out);
    this.outlierEjections.render(out);
    this.circuit.render(out);
    this.poolSaturated.render(out);
    this.rateLimited.render(out);
    scalar(out, 'mesh_load_shed_total', 'counter', 'Requests shed because the sidecar was overloaded.', this.loadShed);
    this.tlsHandshakes.render(out);
    this.grpcResponses.render(out);
    scalar(out, 'mesh_passthrough_connections_total', 'counter', 'Intercepted connections to addresses outside the mesh, sent on as dialled (not mTLS).', this.passthroughConnections);
    if (this.certificateExpirySeconds !== undefined) {
      scalar(out, 'mesh_certificate_expiry_timestamp_seconds', 'gauge', 'notAfter of the current workload certificate, in Unix seconds.', this.certificateExpirySeconds);
    }
    scalar(out, 'mesh_spans_dropped_total', 'counter', 'Finished spans that never reached the collector (queue full, export failed or timed out).', this.read(this.spansDropped));
    scalar(out, 'mesh_access_log_dropped_total', 'counter', 'Access log lines dropped because the log sink could not keep up.', this.read(this.accessLogDropped));
    scalar(out, 'mesh_telemetry_errors_total', 'counter', 'Exceptions inside telemetry hooks, swallowed so requests go on.', this.telemetryErrors);
    out.push('');
    return out.join('\n');
  }

  private read(source: () => number): number {
    try {
      return source();
    } catch {
      this.telemetryErrors++;
      return 0;
    }
  }

  private renderRequests(out: string[]): void {
    const all = [...this.requestOrder, ...this.requestOverflow.values()];
    out.push('# HELP mesh_requests_total Requests completed, by direction, source identity, destination service, route and status class.');
    out.push('# TYPE mesh_requests_total counter');
    for (const s of all) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        const n = s.counts[c]!;
        if (n > 0) out.push(`mesh_requests_total{${s.labels},status_class="${STATUS_CLASSES[c]}"} ${formatNumber(n)}`);
      }
    }
    out.push('# HELP mesh_request_duration_seconds Request latency from first byte in to last byte out.');
    out.push('# TYPE mesh_request_duration_seconds histogram');
    for (const s of all) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
        cumulative += s.buckets[i]!;
        out.push(`mesh_request_duration_seconds_bucket{${s.labels},le="${LATENCY_BUCKETS_SECONDS[i]}"} ${formatNumber(cumulative)}`);
      }
      out.push(`mesh_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${formatNumber(s.count)}`);
      out.push(`mesh_request_duration_seconds_sum{${s.labels}} ${formatNumber(s.sum)}`);
      out.push(`mesh_request_duration_seconds_count{${s.labels}} ${formatNumber(s.count)}`);
    }
  }
}

function scalar(out: string[], name: string, type: 'counter' | 'gauge', help: string, value: number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${formatNumber(value)}`);
}
