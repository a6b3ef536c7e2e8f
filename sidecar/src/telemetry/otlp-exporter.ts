// The OTLP span exporter for the configured protocol, its package loaded only when export is configured.
import type { SpanExporter } from '@opentelemetry/sdk-trace';

// A sidecar without a collector loads neither exporter (with the OTLP transformer and the metrics SDK under
// it, ~1.5 MB). import(), not require: the sidecar's bundle then carries each exporter as a chunk of its
// own that shares the OpenTelemetry and grpc-js modules already loaded, instead of a second copy of them.
export async function loadOtlpExporter(config: { protocol: 'http/protobuf' | 'grpc'; endpoint: string }, timeoutMillis: number): Promise<SpanExporter> {
  if (config.protocol === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter({ url: config.endpoint, timeoutMillis, concurrencyLimit: 2 });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const base = config.endpoint.replace(/\/+$/, '');
  const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
  return new OTLPTraceExporter({ url, timeoutMillis, concurrencyLimit: 2 });
}
