// The /traces pages: recent traces and a waterfall per trace, self-contained HTML with inline CSS and no scripts.
import type { TraceJson, TraceSummary } from './trace-store.js';
import { formatMs, statusText, waterfallRows } from './waterfall.js';

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; } a { color: #0b57d0; text-decoration: none; } a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.err { color: #b3261e; font-weight: 600; } .muted { color: #777; }
.row { display: grid; grid-template-columns: 34% 1fr 80px 160px; align-items: center; border-bottom: 1px solid #f0f0f0; }
.row > div { padding: 3px 6px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { position: relative; height: 14px; background: #fafafa; }
.bar { position: absolute; top: 2px; height: 10px; min-width: 2px; background: #4f8bd6; border-radius: 2px; }
.bar.error { background: #d9534f; }
details { border-bottom: 1px solid #f0f0f0; } details > summary { list-style: none; cursor: pointer; } details > summary::-webkit-details-marker { display: none; }
pre { margin: 4px 0 8px 34%; background: #f8f8f8; padding: 6px; overflow-x: auto; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

export function renderTraceListPage(traces: readonly TraceSummary[]): string {
  const rows = traces
    .map(
      (t) =>
        `<tr><td class="muted">${escapeHtml(new Date(t.startTimeUnixMs).toISOString())}</td>` +
        `<td><a href="/traces/${escapeHtml(t.traceId)}">${escapeHtml(t.rootService)}: ${escapeHtml(t.rootName)}</a></td>` +
        `<td>${escapeHtml(t.services.join(', '))}</td><td class="num">${formatMs(t.durationMs)}</td><td class="num">${t.spanCount}</td>` +
        `<td>${t.error ? '<span class="err">error</span>' : ''}</td><td class="muted">${escapeHtml(t.traceId)}</td></tr>`,
    )
    .join('\n');
  const table = traces.length
    ? `<table><thead><tr><th>started</th><th>root</th><th>services</th><th>duration</th><th>spans</th><th></th><th>trace id</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="muted">No traces yet. Point sidecars at this control plane: <code>--otlp-endpoint http://&lt;this address&gt;/v1/traces</code>.</p>';
  return page('tsmesh traces', `<h1>Recent traces</h1><p><a href="/traces">refresh</a> · <a href="/api/traces">JSON</a></p>${table}`);
}

export function renderTracePage(trace: TraceJson): string {
  const total = trace.durationMs > 0 ? trace.durationMs : 1;
  const rows = waterfallRows(trace.spans)
    .map(({ span, depth }) => {
      const left = Math.min(100, (span.startOffsetMs / total) * 100);
      const width = Math.min(100 - left, (span.durationMs / total) * 100);
      const error = span.status.code === 2;
      const links = span.links.map((l) => `<a href="/traces/${escapeHtml(l.traceId)}">linked span ${escapeHtml(l.spanId)} in trace ${escapeHtml(l.traceId)}</a>`).join('<br>');
      const details = escapeHtml(JSON.stringify({ spanId: span.spanId, parentSpanId: span.parentSpanId, kind: span.kind, attributes: span.attributes }, null, 2));
      return (
        `<details><summary class="row"><div style="padding-left:${6 + depth * 16}px" title="${escapeHtml(`${span.service} ${span.name}`)}">` +
        `<b>${escapeHtml(span.service)}</b> ${escapeHtml(span.name)}</div>` +
        `<div class="track"><div class="bar${error ? ' error' : ''}" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%"></div></div>` +
        `<div>${formatMs(span.durationMs)}</div><div class="${error ? 'err' : 'muted'}">${escapeHtml(statusText(span.status))}</div></summary>` +
        `<pre>${details}${links ? `\n</pre><pre>${links}` : ''}</pre></details>`
      );
    })
    .join('\n');
  const head = `<h1>Trace ${escapeHtml(trace.traceId)}</h1><p><a href="/traces">all traces</a> · <a href="/api/traces/${escapeHtml(trace.traceId)}">JSON</a> · ${formatMs(trace.durationMs)} · ${trace.spanCount} spans · ${escapeHtml(trace.services.join(', '))}${trace.error ? ' · <span class="err">error</span>' : ''}</p>`;
  return page(`trace ${trace.traceId}`, `${head}${rows}`);
}
