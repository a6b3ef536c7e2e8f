// The OTLP span exporter for the configured protocol, its package loaded only when export is configured.
import { createRequire } from 'node:module';
import type * as OtlpGrpc from '@opentelemetry/exporter-trace-otlp-grpc';
import type * as OtlpProto from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

// Synchronous on purpose: a bad endpoint still fails start-up, as when both were imported up front. A sidecar
// without a collector then loads neither exporter (with the OTLP transformer and the metrics SDK under it, ~1.5 MB).
const requireCjs = createRequire(import.meta.url);

export function otlpExporter(config: { protocol: 'http/protobuf' | 'grpc'; endpoint: string }, timeoutMillis: number): SpanExporter {
  if (config.protocol === 'grpc') {
    const { OTLPTraceExporter } = requireCjs('@opentelemetry/exporter-trace-otlp-grpc') as typeof OtlpGrpc;
    return new OTLPTraceExporter({ url: config.endpoint, timeoutMillis, concurrencyLimit: 2 });
  }
  const { OTLPTraceExporter } = requireCjs('@opentelemetry/exporter-trace-otlp-proto') as typeof OtlpProto;
  const base = config.endpoint.replace(/\/+$/, '');
  const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
  return new OTLPTraceExporter({ url, timeoutMillis, concurrencyLimit: 2 });
}
