// The golden metrics from sidecars' request counters: success rate, request rate and latency percentiles per service or route.
import type { SidecarStats } from './hub.js';
import type { RequestSeries } from './protocol.js';

export interface StatsQuery {
  // Absent: every service (in `namespace`, if given).
  service?: string;
  namespace?: string;
  // Per route of the callers' outbound side (routes are chosen there), instead of per service's inbound side.
  byRoute: boolean;
}

export interface StatRow {
  service: string;
  route?: string;
  // Since the sidecars started: requests and the share of them that were not 5xx or a failure without a status.
  requests: number;
  successRate: number | null;
  // Over the sampling window.
  rps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface StatsReport {
  windowMs: number;
  sidecars: number;
  rows: StatRow[];
}

// Prometheus's histogram_quantile: linear within the bucket; a rank in the +Inf bucket answers the highest finite bound.
export function histogramQuantile(q: number, bounds: readonly number[], buckets: readonly number[], count: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    const inBucket = buckets[i] ?? 0;
    if (cumulative + inBucket >= rank && inBucket > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - cumulative) / inBucket);
    }
    cumulative += inBucket;
  }
  return bounds.length > 0 ? bounds[bounds.length - 1]! : null;
}

interface Group {
  service: string;
  route: string | undefined;
  requests: number;
  failures: number;
  delta: number;
  bounds: readonly number[] | undefined;
  buckets: number[];
  histogramCount: number;
}

const seriesKey = (nodeId: string, s: RequestSeries): string => `${nodeId}\u0000${s.direction}\u0000${s.source}\u0000${s.destination}\u0000${s.route}`;

function selected(s: RequestSeries, query: StatsQuery): boolean {
  if (s.direction !== (query.byRoute ? 'outbound' : 'inbound')) return false;
  const dot = s.destination.indexOf('.');
  const [service, namespace] = dot < 0 ? [s.destination, ''] : [s.destination.slice(0, dot), s.destination.slice(dot + 1)];
  if (query.service !== undefined && service !== query.service) return false;
  return query.namespace === undefined || namespace === query.namespace;
}

const sameBounds = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

// before and after are two collections windowMs apart; request rates come from their difference.
export function aggregateStats(before: SidecarStats[], after: SidecarStats[], windowMs: number, query: StatsQuery): StatsReport {
  const earlier = new Map<string, number>();
  const seenBefore = new Set(before.map((b) => b.nodeId));
  for (const sidecar of before) for (const s of sidecar.series) earlier.set(seriesKey(sidecar.nodeId, s), s.count);
  const groups = new Map<string, Group>();
  for (const sidecar of after) {
    for (const s of sidecar.series) {
      if (!selected(s, query)) continue;
      const route = query.byRoute ? s.route : undefined;
      const key = `${s.destination}\u0000${route ?? ''}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { service: s.destination, route, requests: 0, failures: 0, delta: 0, bounds: undefined, buckets: [], histogramCount: 0 }));
      group.requests += s.count;
      group.failures += (s.statusClasses['5xx'] ?? 0) + (s.statusClasses['other'] ?? 0);
      // A sidecar that was not there for the first collection has no rate yet; one that restarted counts from zero.
      if (seenBefore.has(sidecar.nodeId)) {
        const prior = earlier.get(seriesKey(sidecar.nodeId, s)) ?? 0;
        group.delta += s.count >= prior ? s.count - prior : s.count;
      }
      group.bounds ??= sidecar.bounds;
      // Histograms with other bucket bounds (a sidecar of another version) cannot be merged bucket by bucket.
      if (!sameBounds(group.bounds, sidecar.bounds)) continue;
      for (let i = 0; i < s.buckets.length; i++) group.buckets[i] = (group.buckets[i] ?? 0) + s.buckets[i]!;
      group.histogramCount += s.count;
    }
  }
  const ms = (q: number, g: Group): number | null => {
    const seconds = histogramQuantile(q, g.bounds ?? [], g.buckets, g.histogramCount);
    return seconds === null ? null : seconds * 1000;
  };
  const rows = [...groups.values()]
    .map((g): StatRow => ({
      service: g.service,
      ...(g.route !== undefined ? { route: g.route } : {}),
      requests: g.requests,
      successRate: g.requests > 0 ? (g.requests - g.failures) / g.requests : null,
      rps: windowMs > 0 ? (g.delta * 1000) / windowMs : 0,
      p50Ms: ms(0.5, g),
      p95Ms: ms(0.95, g),
      p99Ms: ms(0.99, g),
    }))
    .sort((a, b) => a.service.localeCompare(b.service) || (a.route ?? '').localeCompare(b.route ?? ''));
  return { windowMs, sidecars: after.length, rows };
}
