// One sidecar's telemetry: its tracer, metrics registry and optional access log, built from one config and closed together.
import { AccessLog, type AccessLogConfig } from './access-log.js';
import { MeshMetrics } from './metrics.js';
import { Tracing, type OtlpExporterConfig } from './tracing.js';
import type { SpanBatchOptions } from './span-processor.js';

export interface TelemetryConfig {
  service: { name: string; namespace: string };
  spiffeId: string;
  instanceId?: string;
  tracing: {
    exporter: OtlpExporterConfig | undefined;
    samplingPercent?: number;
    batch?: Partial<SpanBatchOptions>;
  };
  // Off unless configured: a JSON line per request is real work under load.
  accessLog?: AccessLogConfig | undefined;
  maxLabelSets?: number;
}

// Service keys ("name.namespace") remembered, so a repeated destination is two map lookups, not a string concat.
const MAX_CACHED_SERVICE_KEYS = 4096;

export class Telemetry {
  readonly tracing: Tracing;
  readonly metrics: MeshMetrics;
  readonly accessLog: AccessLog | undefined;
  readonly spiffeId: string;
  // This workload's service as "name.namespace": the destination of every inbound request.
  readonly localService: string;
  private readonly serviceKeys = new Map<string, Map<string, string>>();
  private cachedKeys = 0;

  constructor(config: TelemetryConfig, tracing: Tracing) {
    this.spiffeId = config.spiffeId;
    this.localService = `${config.service.name}.${config.service.namespace}`;
    this.tracing = tracing;
    this.metrics = new MeshMetrics(config.maxLabelSets !== undefined ? { maxLabelSets: config.maxLabelSets } : {});
    this.metrics.spansDroppedFrom(() => this.tracing.droppedSpans);
    this.accessLog = config.accessLog ? new AccessLog(config.accessLog) : undefined;
    if (this.accessLog) {
      const log = this.accessLog;
      this.metrics.accessLogDroppedFrom(() => log.dropped);
    }
  }

  serviceKey(name: string, namespace: string): string {
    let byNamespace = this.serviceKeys.get(name);
    const found = byNamespace?.get(namespace);
    if (found !== undefined) return found;
    const key = `${name}.${namespace}`;
    if (this.cachedKeys < MAX_CACHED_SERVICE_KEYS) {
      if (byNamespace === undefined) this.serviceKeys.set(name, (byNamespace = new Map<string, string>()));
      byNamespace.set(namespace, key);
      this.cachedKeys++;
    }
    return key;
  }

  // Exports what is queued (bounded by the export timeout), then stops the exporter and the access log.
  async close(): Promise<void> {
    await Promise.allSettled([this.tracing.shutdown(), this.accessLog?.close()]);
  }
}

// Async because the tracer loads its OTLP exporter (when one is configured) before anything is traced.
export async function createTelemetry(config: TelemetryConfig): Promise<Telemetry> {
  const tracing = await Tracing.create({
    serviceName: config.service.name,
    serviceNamespace: config.service.namespace,
    spiffeId: config.spiffeId,
    exporter: config.tracing.exporter,
    ...(config.instanceId !== undefined ? { instanceId: config.instanceId } : {}),
    ...(config.tracing.samplingPercent !== undefined ? { samplingPercent: config.tracing.samplingPercent } : {}),
    ...(config.tracing.batch !== undefined ? { batch: config.tracing.batch } : {}),
  });
  return new Telemetry(config, tracing);
}
