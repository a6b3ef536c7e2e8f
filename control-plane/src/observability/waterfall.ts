// A trace laid out as a waterfall: spans in parent/child order with their depth, and its text rendering for meshctl.
import type { SpanJson, TraceJson } from './trace-store.js';

export interface WaterfallRow {
  span: SpanJson;
  depth: number;
}

// Depth-first from the roots, children by start time. A span whose parent is missing (not sampled,
// not received yet, or evicted) is shown as a root rather than hidden.
export function waterfallRows(spans: readonly SpanJson[]): WaterfallRow[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanJson[]>();
  const roots: SpanJson[] = [];
  for (const span of spans) {
    if (span.parentSpanId && ids.has(span.parentSpanId) && span.parentSpanId !== span.spanId) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else roots.push(span);
  }
  const byStart = (a: SpanJson, b: SpanJson): number => a.startOffsetMs - b.startOffsetMs;
  const rows: WaterfallRow[] = [];
  const seen = new Set<string>();
  const visit = (span: SpanJson, depth: number): void => {
    // A parent cycle in what an exporter sent must not loop forever.
    if (seen.has(span.spanId)) return;
    seen.add(span.spanId);
    rows.push({ span, depth });
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  return rows;
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

export function statusText(status: { code: number; message: string }): string {
  if (status.code === 2) return status.message ? `ERROR: ${status.message}` : 'ERROR';
  return status.code === 1 ? 'OK' : '-';
}

// One line per span: the bar is placed and sized on a `barWidth`-column scale of the whole trace.
export function renderTextWaterfall(trace: TraceJson, barWidth = 40): string {
  const rows = waterfallRows(trace.spans);
  const total = trace.durationMs > 0 ? trace.durationMs : 1;
  const labels = rows.map((r) => `${'  '.repeat(r.depth)}${r.span.service} ${r.span.name}`);
  const labelWidth = Math.min(60, Math.max(...labels.map((l) => l.length), 4));
  const lines = [`trace ${trace.traceId}  ${formatMs(trace.durationMs)}  ${trace.spanCount} spans  ${trace.services.join(', ')}${trace.error ? '  ERROR' : ''}`];
  rows.forEach((row, i) => {
    const from = Math.min(barWidth - 1, Math.floor((row.span.startOffsetMs / total) * barWidth));
    const length = Math.max(1, Math.min(barWidth - from, Math.round((row.span.durationMs / total) * barWidth)));
    const bar = `${' '.repeat(from)}${'█'.repeat(length)}`.padEnd(barWidth);
    const label = (labels[i] ?? '').slice(0, labelWidth).padEnd(labelWidth);
    lines.push(`${label}  |${bar}|  ${formatMs(row.span.durationMs).padStart(8)}  ${statusText(row.span.status)}`);
  });
  return `${lines.join('\n')}\n`;
}
