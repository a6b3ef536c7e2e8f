// The JSON messages of the stream server: sidecar <-> control plane on /v1/sidecar (types in @tsmesh/proto) and control plane -> meshctl on /v1/tap.
export { frameText } from '@tsmesh/proto';
export type { TapFilter, TapEvent, RequestSeries, SidecarMessage, ControlPlaneMessage, TapStreamMessage } from '@tsmesh/proto';
import { jsonObject, type TapEvent, type RequestSeries, type SidecarMessage } from '@tsmesh/proto';

// A batch larger than a sidecar's whole rate bound is not from a well-behaved sidecar.
const MAX_EVENTS_PER_BATCH = 1_000;
const MAX_SERIES = 10_000;

type Fields = Record<string, unknown>;
const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

// Sidecars are workloads, not admins: what they send is checked and copied field by field before an operator sees it.
function sanitizeEvent(raw: unknown): TapEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Fields;
  if (!str(e['time']) || (e['direction'] !== 'inbound' && e['direction'] !== 'outbound') || !str(e['method']) || !str(e['path']) || !str(e['authority'])) return undefined;
  if (!num(e['status']) || !num(e['latencyMs']) || !str(e['source']) || !str(e['destination']) || !str(e['traceId'])) return undefined;
  const event: TapEvent = { time: e['time'], direction: e['direction'], method: e['method'], path: e['path'], authority: e['authority'], status: e['status'], latencyMs: e['latencyMs'], source: e['source'], destination: e['destination'], traceId: e['traceId'] };
  if (str(e['refusal'])) event.refusal = e['refusal'];
  const headers = e['headers'];
  if (typeof headers === 'object' && headers !== null) {
    event.headers = Object.fromEntries(Object.entries(headers as Fields).filter((entry): entry is [string, string] => str(entry[1])));
  }
  return event;
}

function sanitizeSeries(raw: unknown): RequestSeries | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const s = raw as Fields;
  if (!str(s['direction']) || !str(s['source']) || !str(s['destination']) || !str(s['route']) || !num(s['count']) || !num(s['sumSeconds'])) return undefined;
  if (!Array.isArray(s['buckets']) || !s['buckets'].every(num) || typeof s['statusClasses'] !== 'object' || s['statusClasses'] === null) return undefined;
  const classes = Object.fromEntries(Object.entries(s['statusClasses'] as Fields).filter((entry): entry is [string, number] => num(entry[1])));
  return { direction: s['direction'], source: s['source'], destination: s['destination'], route: s['route'], statusClasses: classes, buckets: s['buckets'], count: s['count'], sumSeconds: s['sumSeconds'] };
}

export function parseSidecarMessage(text: string): SidecarMessage | undefined {
  const m = jsonObject(text);
  if (m === undefined) return undefined;
  switch (m['type']) {
    case 'hello':
      return str(m['nodeId']) && str(m['service']) && str(m['namespace']) ? { type: 'hello', nodeId: m['nodeId'], service: m['service'], namespace: m['namespace'] } : undefined;
    case 'tap-started':
      return str(m['tapId']) ? { type: 'tap-started', tapId: m['tapId'] } : undefined;
    case 'tap-events': {
      if (!str(m['tapId']) || !Array.isArray(m['events']) || m['events'].length > MAX_EVENTS_PER_BATCH) return undefined;
      const events = m['events'].map(sanitizeEvent).filter((e): e is TapEvent => e !== undefined);
      return { type: 'tap-events', tapId: m['tapId'], events, dropped: num(m['dropped']) && m['dropped'] > 0 ? m['dropped'] : 0 };
    }
    case 'stats': {
      if (!str(m['requestId']) || !Array.isArray(m['bounds']) || !m['bounds'].every(num) || !Array.isArray(m['series']) || m['series'].length > MAX_SERIES) return undefined;
      const series = m['series'].map(sanitizeSeries).filter((s): s is RequestSeries => s !== undefined);
      return { type: 'stats', requestId: m['requestId'], bounds: m['bounds'], series };
    }
    default:
      return undefined;
  }
}
