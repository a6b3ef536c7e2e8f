// Metrics: the Prometheus text parsed back agrees with the calls made, label values survive escaping, label sets are capped.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrometheus as parseText, type Sample } from '../../test-support/prometheus.js';
import { LATENCY_BUCKETS_SECONDS, MeshMetrics, type Direction } from '../src/telemetry/metrics.js';


const parsePrometheus = (text: string): ReturnType<typeof parseText> => parseText(text, { types: ['counter', 'gauge', 'histogram', 'summary', 'untyped'], allowNaN: true });

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

const requestArb = fc.record({
  direction: fc.constantFrom<Direction>('inbound', 'outbound'),
  source: fc.constantFrom('spiffe://cluster.local/ns/shop/sa/web', 'spiffe://cluster.local/ns/shop/sa/orders', 'plaintext'),
  destination: fc.constantFrom('orders.shop', 'payments.shop'),
  route: fc.constantFrom('', 'shop/orders#0', 'default'),
  status: fc.constantFrom(200, 204, 301, 404, 503, 504),
  durationMs: fc.double({ min: 0, max: 20_000, noNaN: true }),
});

describe('mesh_requests_total and mesh_request_duration_seconds', () => {
  it('agree with the requests recorded (property)', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { maxLength: 200 }), (requests) => {
        const metrics = new MeshMetrics();
        for (const r of requests) metrics.requestCompleted(r.direction, r.source, r.destination, r.route, r.status, r.durationMs);
        const { samples, types } = parsePrometheus(metrics.render());
        expect(types.get('mesh_requests_total')).toBe('counter');
        expect(types.get('mesh_request_duration_seconds')).toBe('histogram');
        expect(sum(samples, 'mesh_requests_total')).toBe(requests.length);
        expect(sum(samples, 'mesh_request_duration_seconds_count')).toBe(requests.length);
        for (const r of requests) {
          const labels = { direction: r.direction, source: r.source, destination: r.destination, route: r.route };
          const expected = requests.filter((q) => q.direction === r.direction && q.source === r.source && q.destination === r.destination && q.route === r.route);
          const cls = `${Math.floor(r.status / 100)}xx`;
          expect(value(samples, 'mesh_requests_total', { ...labels, status_class: cls })).toBe(expected.filter((q) => `${Math.floor(q.status / 100)}xx` === cls).length);
          expect(value(samples, 'mesh_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(expected.length);
          expect(value(samples, 'mesh_request_duration_seconds_bucket', { ...labels, le: '0.1' })).toBe(expected.filter((q) => q.durationMs / 1000 <= 0.1).length);
          expect(value(samples, 'mesh_request_duration_seconds_sum', labels)).toBeCloseTo(expected.reduce((a, q) => a + q.durationMs / 1000, 0), 6);
          // Buckets are cumulative.
          const buckets = LATENCY_BUCKETS_SECONDS.map((le) => value(samples, 'mesh_request_duration_seconds_bucket', { ...labels, le: String(le) }) ?? -1);
          for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('escapes label values so any string reads back unchanged (property)', () => {
    fc.assert(
      fc.property(fc.string(), (source) => {
        const metrics = new MeshMetrics();
        metrics.requestCompleted('inbound', source, 'orders.shop', '', 200, 1);
        const { samples } = parsePrometheus(metrics.render());
        expect(samples.find((s) => s.name === 'mesh_requests_total')?.labels['source']).toBe(source);
      }),
    );
  });

  it('caps distinct label sets: new combinations past the cap are counted under "other"', () => {
    const metrics = new MeshMetrics({ maxLabelSets: 3 });
    for (let i = 0; i < 50; i++) metrics.requestCompleted('inbound', `spiffe://cluster.local/ns/x/sa/caller-${i}`, 'orders.shop', '', 200, 2);
    metrics.requestCompleted('outbound', 'spiffe://cluster.local/ns/x/sa/caller-0', 'orders.shop', '', 500, 2);
    // A label set admitted before the cap keeps its own series.
    metrics.requestCompleted('inbound', 'spiffe://cluster.local/ns/x/sa/caller-1', 'orders.shop', '', 200, 2);
    const { samples } = parsePrometheus(metrics.render());
    const series = samples.filter((s) => s.name === 'mesh_requests_total');
    expect(series).toHaveLength(5);
    expect(value(samples, 'mesh_requests_total', { direction: 'inbound', source: 'other', destination: 'other', route: 'other' })).toBe(47);
    expect(value(samples, 'mesh_requests_total', { direction: 'outbound', source: 'other', status_class: '5xx' })).toBe(1);
    expect(value(samples, 'mesh_requests_total', { source: 'spiffe://cluster.local/ns/x/sa/caller-1' })).toBe(2);
    expect(sum(samples, 'mesh_requests_total')).toBe(52);
  });

  it('counts statuses outside 100-599 under status_class "other"', () => {
    const metrics = new MeshMetrics();
    metrics.requestCompleted('outbound', 'a', 'b.c', '', 0, 1);
    expect(value(parsePrometheus(metrics.render()).samples, 'mesh_requests_total', { status_class: 'other' })).toBe(1);
  });
});

describe('the resilience, TLS and self metrics', () => {
  it('render every documented family with the values recorded', () => {
    const metrics = new MeshMetrics({ maxLabelSets: 2 });
    metrics.retry('orders.shop');
    metrics.retry('orders.shop');
    metrics.retryBudgetExhaustedFor('orders.shop');
    metrics.outlierEjected('payments.shop');
    metrics.circuitState('orders.shop', 'open');
    metrics.circuitState('orders.shop', 'half-open');
    metrics.poolSaturatedFor('orders.shop');
    metrics.rateLimitedFor('inbound');
    metrics.loadShedOne();
    metrics.tlsHandshake('inbound', 'success');
    metrics.tlsHandshake('outbound', 'identity_rejected');
    metrics.certificateExpiry(new Date('2030-01-01T00:00:00Z'));
    metrics.telemetryError();
    metrics.spansDroppedFrom(() => 42);
    for (const d of ['a.x', 'b.x', 'c.x', 'd.x']) metrics.retry(d);
    const { samples, types } = parsePrometheus(metrics.render());
    expect(value(samples, 'mesh_retries_total', { destination: 'orders.shop' })).toBe(2);
    expect(value(samples, 'mesh_retries_total', { destination: 'other' })).toBe(3);
    expect(value(samples, 'mesh_retry_budget_exhausted_total', { destination: 'orders.shop' })).toBe(1);
    expect(value(samples, 'mesh_outlier_ejections_total', { destination: 'payments.shop' })).toBe(1);
    expect(value(samples, 'mesh_circuit_state', { destination: 'orders.shop', state: 'half-open' })).toBe(1);
    expect(value(samples, 'mesh_circuit_state', { destination: 'orders.shop', state: 'open' })).toBe(0);
    expect(value(samples, 'mesh_circuit_state', { destination: 'orders.shop', state: 'closed' })).toBe(0);
    expect(types.get('mesh_circuit_state')).toBe('gauge');
    expect(value(samples, 'mesh_pool_saturated_total', { destination: 'orders.shop' })).toBe(1);
    expect(value(samples, 'mesh_rate_limited_total', { direction: 'inbound' })).toBe(1);
    expect(value(samples, 'mesh_load_shed_total', {})).toBe(1);
    expect(value(samples, 'mesh_tls_handshakes_total', { direction: 'outbound', result: 'identity_rejected' })).toBe(1);
    expect(value(samples, 'mesh_certificate_expiry_timestamp_seconds', {})).toBe(1893456000);
    expect(value(samples, 'mesh_spans_dropped_total', {})).toBe(42);
    expect(value(samples, 'mesh_telemetry_errors_total', {})).toBe(1);
  });

  it('counts a failing scrape-time source as a telemetry error instead of failing the scrape', () => {
    const metrics = new MeshMetrics();
    metrics.spansDroppedFrom(() => {
      throw new Error('boom');
    });
    const { samples } = parsePrometheus(metrics.render());
    expect(value(samples, 'mesh_spans_dropped_total', {})).toBe(0);
    expect(value(samples, 'mesh_telemetry_errors_total', {})).toBe(1);
  });
});
