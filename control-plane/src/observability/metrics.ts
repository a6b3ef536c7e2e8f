// The control plane's Prometheus metrics: push counts and convergence time per type, plus gauges read at scrape time.
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// From a debounced push on loopback (~0.1 s) to a sidecar reconnecting after a network blip.
export const PUSH_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

// The label for a type URL: its message name ("type.tsmesh.dev/tsmesh.config.v1.ServiceRoutes" -> "ServiceRoutes").
export function typeLabel(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1) || typeUrl;
}

class Histogram {
  readonly buckets = new Float64Array(PUSH_BUCKETS_SECONDS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    const i = PUSH_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
    if (i >= 0) this.buckets[i]!++;
  }
}

// What is read from the rest of the control plane when /metrics is scraped.
export interface ControlPlaneGauges {
  connectedSidecars(): number;
  certificatesIssued(): number;
  storeRevision(): number;
  traceStore(): { traces: number; spans: number; received: number; dropped: number; evictedTraces: number };
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// Type labels come from the discovery server's fixed set of types, so these maps stay small.
export class ControlPlaneMetrics {
  private readonly pushes = new Map<string, number>();
  private readonly nacks = new Map<string, number>();
  private readonly convergence = new Map<string, Histogram>();
  private telemetryErrors = 0;
  private gauges: ControlPlaneGauges | undefined;

  readFrom(gauges: ControlPlaneGauges): void {
    this.gauges = gauges;
  }

  pushed(typeUrl: string): void {
    const type = typeLabel(typeUrl);
    this.pushes.set(type, (this.pushes.get(type) ?? 0) + 1);
  }

  nacked(typeUrl: string): void {
    const type = typeLabel(typeUrl);
    this.nacks.set(type, (this.nacks.get(type) ?? 0) + 1);
  }

  // From the config change to the ACK of the first version that carried it.
  converged(typeUrl: string, seconds: number): void {
    const type = typeLabel(typeUrl);
    let histogram = this.convergence.get(type);
    if (!histogram) this.convergence.set(type, (histogram = new Histogram()));
    histogram.observe(Math.max(0, seconds));
  }

  // An exception inside telemetry, counted and swallowed so the RPC goes on.
  telemetryError(): void {
    this.telemetryErrors++;
  }

  render(): string {
    const out: string[] = [];
    const g = this.gauges;
    const read = (f: (() => number) | undefined): number => {
      if (!f) return 0;
      try {
        return f();
      } catch {
        this.telemetryErrors++;
        return 0;
      }
    };
    const store = ((): ReturnType<ControlPlaneGauges['traceStore']> | undefined => {
      try {
        return g?.traceStore();
      } catch {
        this.telemetryErrors++;
        return undefined;
      }
    })();
    scalar(out, 'mesh_cp_connected_sidecars', 'gauge', 'Sidecars with an open discovery stream.', read(g && (() => g.connectedSidecars())));
    labeled(out, 'mesh_cp_pushes_total', 'counter', 'Discovery responses sent to sidecars, by resource type.', this.pushes);
    labeled(out, 'mesh_cp_nacks_total', 'counter', 'Discovery responses a sidecar refused (NACK), by resource type.', this.nacks);
    out.push('# HELP mesh_cp_config_push_seconds Convergence time: from a config change (store commit or endpoint change) to a sidecar ACKing the version that carries it, by resource type.');
    out.push('# TYPE mesh_cp_config_push_seconds histogram');
    for (const [type, h] of [...this.convergence.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const labels = `type="${escapeLabel(type)}"`;
      let cumulative = 0;
      PUSH_BUCKETS_SECONDS.forEach((bound, i) => {
        cumulative += h.buckets[i] ?? 0;
        out.push(`mesh_cp_config_push_seconds_bucket{${labels},le="${bound}"} ${cumulative}`);
      });
      out.push(`mesh_cp_config_push_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(`mesh_cp_config_push_seconds_sum{${labels}} ${h.sum}`);
      out.push(`mesh_cp_config_push_seconds_count{${labels}} ${h.count}`);
    }
    scalar(out, 'mesh_cp_certificates_issued_total', 'counter', 'Certificates signed by the mesh CA since the control plane started.', read(g && (() => g.certificatesIssued())));
    scalar(out, 'mesh_cp_store_revision', 'gauge', 'The config store revision (the number of committed changes).', read(g && (() => g.storeRevision())));
    scalar(out, 'mesh_cp_trace_store_traces', 'gauge', 'Traces held by the embedded trace store.', store?.traces ?? 0);
    scalar(out, 'mesh_cp_trace_store_spans', 'gauge', 'Spans held by the embedded trace store.', store?.spans ?? 0);
    scalar(out, 'mesh_cp_trace_spans_received_total', 'counter', 'Spans received by the embedded trace store (OTLP/HTTP and the control plane own).', store?.received ?? 0);
    scalar(out, 'mesh_cp_trace_spans_dropped_total', 'counter', 'Spans the embedded trace store refused (malformed, or their trace at its span limit).', store?.dropped ?? 0);
    scalar(out, 'mesh_cp_traces_evicted_total', 'counter', 'Traces evicted (oldest first) to keep the embedded trace store within its bounds.', store?.evictedTraces ?? 0);
    scalar(out, 'mesh_cp_telemetry_errors_total', 'counter', 'Exceptions inside control plane telemetry, swallowed so RPCs go on. Should stay 0.', this.telemetryErrors);
    out.push('');
    return out.join('\n');
  }
}

function scalar(out: string[], name: string, type: 'counter' | 'gauge', help: string, value: number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
}

function labeled(out: string[], name: string, type: 'counter', help: string, values: Map<string, number>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [label, value] of [...values.entries()].sort(([a], [b]) => a.localeCompare(b))) out.push(`${name}{type="${escapeLabel(label)}"} ${value}`);
}
