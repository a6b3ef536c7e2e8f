// The JSON messages on a sidecar's stream to the control plane (/v1/sidecar); control-plane/src/tap/protocol.ts mirrors them.
import type { RequestSeriesSnapshot } from '../telemetry/metrics.js';
import type { RawData } from 'ws';

export interface TapFilter {
  service: string;
  namespace: string;
  // A path prefix and an exact method; absent means any.
  path?: string;
  method?: string;
  // Request headers are sent only when the operator asked for them; bodies never are.
  headers: boolean;
}

export interface TapEvent {
  time: string;
  direction: 'inbound' | 'outbound';
  method: string;
  path: string;
  authority: string;
  status: number;
  latencyMs: number;
  source: string;
  destination: string;
  traceId: string;
  refusal?: string;
  headers?: Record<string, string>;
}

export type SidecarMessage =
  | { type: 'hello'; nodeId: string; service: string; namespace: string }
  | { type: 'tap-started'; tapId: string }
  // dropped: events over the rate bound (or not sendable) since the last batch of this tap.
  | { type: 'tap-events'; tapId: string; events: TapEvent[]; dropped: number }
  | { type: 'stats'; requestId: string; bounds: readonly number[]; series: RequestSeriesSnapshot[] };

export type ControlPlaneMessage =
  | { type: 'tap-start'; tapId: string; filter: TapFilter }
  | { type: 'tap-stop'; tapId: string }
  | { type: 'stats-request'; requestId: string };

const isString = (value: unknown): value is string => typeof value === 'string';

// The control plane is trusted, but a newer one may send what this sidecar does not know: that is ignored, not thrown.
export function parseControlPlaneMessage(text: string): ControlPlaneMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m['type']) {
    case 'tap-start': {
      const f = m['filter'] as Record<string, unknown> | undefined;
      if (!isString(m['tapId']) || typeof f !== 'object' || f === null || !isString(f['service']) || !isString(f['namespace'])) return undefined;
      const filter: TapFilter = { service: f['service'], namespace: f['namespace'], headers: f['headers'] === true };
      if (isString(f['path']) && f['path'] !== '') filter.path = f['path'];
      if (isString(f['method']) && f['method'] !== '') filter.method = f['method'].toUpperCase();
      return { type: 'tap-start', tapId: m['tapId'], filter };
    }
    case 'tap-stop':
      return isString(m['tapId']) ? { type: 'tap-stop', tapId: m['tapId'] } : undefined;
    case 'stats-request':
      return isString(m['requestId']) ? { type: 'stats-request', requestId: m['requestId'] } : undefined;
    default:
      return undefined;
  }
}

// ws hands a text frame over as a Buffer, a list of fragments or an ArrayBuffer, depending on binaryType.
export function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}
