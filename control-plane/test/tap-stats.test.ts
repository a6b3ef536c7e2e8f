// Golden-metric arithmetic (histogram quantiles as Prometheus computes them, how sidecars' series are grouped and rated) and tap's text line.
import { describe, expect, it } from 'vitest';
import { aggregateStats, histogramQuantile } from '../src/tap/stats.js';
import type { SidecarStats } from '../src/tap/hub.js';
import type { RequestSeries } from '../src/tap/protocol.js';
import { formatTapLine } from '../src/cli/commands-tap.js';

const BOUNDS = [0.005, 0.01, 0.05];

function series(fields: Partial<RequestSeries> & { count: number }): RequestSeries {
  return { direction: 'inbound', source: 'spiffe://cluster.local/ns/shop/sa/web', destination: 'orders.shop', route: '', statusClasses: { '2xx': fields.count }, buckets: [fields.count, 0, 0], sumSeconds: 0, ...fields };
}

const sidecar = (nodeId: string, list: RequestSeries[], bounds = BOUNDS): SidecarStats => ({ nodeId, service: 'orders', namespace: 'shop', bounds, series: list });

describe('histogramQuantile', () => {
  it('interpolates within the bucket, answers the top bound for the +Inf bucket, and null for no requests', () => {
    expect(histogramQuantile(0.5, BOUNDS, [10, 10, 0], 20)).toBeCloseTo(0.005);
    expect(histogramQuantile(0.75, BOUNDS, [10, 10, 0], 20)).toBeCloseTo(0.0075);
    expect(histogramQuantile(0.99, BOUNDS, [0, 0, 1], 10)).toBe(0.05);
    expect(histogramQuantile(0.5, BOUNDS, [0, 0, 0], 0)).toBeNull();
  });
});

describe('aggregateStats', () => {
  it('groups inbound series per service, counts 5xx and status-less failures, and rates from the difference', () => {
    const before = [sidecar('a', [series({ count: 10 })]), sidecar('b', [series({ count: 5 })])];
    const after = [
      sidecar('a', [series({ count: 30, statusClasses: { '2xx': 28, '5xx': 2 } }), series({ count: 7, direction: 'outbound', destination: 'payments.shop' })]),
      sidecar('b', [series({ count: 10, statusClasses: { '2xx': 9, other: 1 } })]),
      // Not there the first time: its requests count, its rate is unknown yet.
      sidecar('c', [series({ count: 100 })]),
    ];
    const report = aggregateStats(before, after, 2_000, { byRoute: false });
    expect(report.sidecars).toBe(3);
    expect(report.rows).toEqual([{ service: 'orders.shop', requests: 140, successRate: 137 / 140, rps: (20 + 5) / 2, p50Ms: expect.any(Number), p95Ms: expect.any(Number), p99Ms: expect.any(Number) }]);
  });

  it('per route takes the callers\' outbound side, filtered to one service, and counts a restarted sidecar from zero', () => {
    const out = (route: string, count: number): RequestSeries => series({ direction: 'outbound', destination: 'orders.shop', route, count });
    const before = [sidecar('web', [out('by-id', 50), out('', 4)])];
    const after = [sidecar('web', [out('by-id', 60), out('', 2), series({ direction: 'outbound', destination: 'payments.shop', route: 'pay', count: 9 })])];
    const report = aggregateStats(before, after, 1_000, { byRoute: true, service: 'orders', namespace: 'shop' });
    expect(report.rows.map((r) => [r.route, r.requests, r.rps])).toEqual([['', 2, 2], ['by-id', 60, 10]]);
  });

  it('leaves out of the percentiles a histogram with other bucket bounds, but still counts its requests', () => {
    const after = [sidecar('a', [series({ count: 10 })]), sidecar('b', [series({ count: 10, buckets: [0, 10] })], [1, 2])];
    const [row] = aggregateStats([], after, 0, { byRoute: false }).rows;
    expect(row?.requests).toBe(20);
    expect(row?.p99Ms).toBeCloseTo(4.95);
  });
});

describe('formatTapLine', () => {
  it('prints one line: time, direction, method, path, status, latency, identities, trace and the refusal code', () => {
    const line = formatTapLine({ time: '2025-01-01T00:00:00.000Z', direction: 'outbound', method: 'GET', path: '/x', authority: 'orders.shop', status: 503, latencyMs: 1.234, source: 'spiffe://cluster.local/ns/shop/sa/web', destination: 'orders.shop', traceId: 'abc', refusal: 'MESH_ERR_NO_ENDPOINTS' });
    expect(line).toBe('2025-01-01T00:00:00.000Z out GET /x 503 1.2ms spiffe://cluster.local/ns/shop/sa/web -> orders.shop trace=abc refusal=MESH_ERR_NO_ENDPOINTS');
  });
});
