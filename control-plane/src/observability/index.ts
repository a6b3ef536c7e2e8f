// The control plane's observability, assembled: metrics, the embedded trace store, its own tracer, push telemetry, and the HTTP port.
import type { Logger } from '@tsmesh/proto';
import type { ConfigStore } from '../store/index.js';
import { ControlPlaneMetrics, type ControlPlaneGauges } from './metrics.js';
import { PushTelemetry } from './push-telemetry.js';
import { ControlPlaneTracing } from './tracing.js';
import { TraceStore, type TraceStoreOptions } from './trace-store.js';
import { startObservabilityHttp, type ObservabilityHttpServer } from './http-server.js';

export interface ObservabilityOptions {
  spiffeId: string;
  otlpEndpoint?: string | undefined;
  traceStore?: TraceStoreOptions | undefined;
  logger: Logger;
}

export class ControlPlaneObservability {
  readonly metrics = new ControlPlaneMetrics();
  readonly traces: TraceStore;
  readonly tracing: ControlPlaneTracing;
  readonly pushes: PushTelemetry;
  private http: ObservabilityHttpServer | undefined;
  private stopping = false;

  constructor(private readonly options: ObservabilityOptions) {
    this.traces = new TraceStore(options.traceStore);
    this.tracing = new ControlPlaneTracing({ store: this.traces, otlpEndpoint: options.otlpEndpoint, spiffeId: options.spiffeId, logger: options.logger, onError: () => this.metrics.telemetryError() });
    this.pushes = new PushTelemetry({ tracer: this.tracing.tracer, metrics: this.metrics, currentChange: () => this.tracing.currentChange() });
  }

  // Gauges are read at scrape time from the parts that own them.
  watch(store: ConfigStore, gauges: Omit<ControlPlaneGauges, 'storeRevision' | 'traceStore'>): void {
    this.tracing.instrumentStore(store);
    this.metrics.readFrom({ ...gauges, storeRevision: () => store.revision, traceStore: () => this.traces.stats });
  }

  // `fallback`: bound instead when `listen` is in use (for a default port, never for one the operator chose).
  async serveHttp(listen: string, fallback?: string): Promise<ObservabilityHttpServer> {
    const start = (address: string): Promise<ObservabilityHttpServer> => startObservabilityHttp({ listen: address, metrics: this.metrics, traces: this.traces, ready: () => !this.stopping, logger: this.options.logger });
    try {
      this.http = await start(listen);
    } catch (error) {
      if (fallback === undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      this.options.logger.warn('the HTTP port is in use; serving it on another', { wanted: listen, instead: fallback });
      this.http = await start(fallback);
    }
    return this.http;
  }

  // The last spans get a short while to reach a collector; a dead one must not hold up shutdown.
  async stop(graceMs = 3_000): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([this.http?.close(), this.tracing.shutdown()]), grace]);
    clearTimeout(timer);
  }
}
