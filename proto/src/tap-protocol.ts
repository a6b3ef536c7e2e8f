// The JSON messages of the control plane's stream port: sidecar <-> control plane (/v1/sidecar) and control plane -> meshctl (/v1/tap).

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

export interface RequestSeries {
  direction: string;
  source: string;
  destination: string;
  route: string;
  statusClasses: Record<string, number>;
  // Per bucket, not cumulative; bounded by the message's `bounds` (seconds), the rest is +Inf.
  buckets: number[];
  count: number;
  sumSeconds: number;
}

export type SidecarMessage =
  | { type: 'hello'; nodeId: string; service: string; namespace: string }
  | { type: 'tap-started'; tapId: string }
  // dropped: events over the rate bound (or not sendable) since the last batch of this tap.
  | { type: 'tap-events'; tapId: string; events: TapEvent[]; dropped: number }
  | { type: 'stats'; requestId: string; bounds: readonly number[]; series: RequestSeries[] };

export type ControlPlaneMessage =
  | { type: 'tap-start'; tapId: string; filter: TapFilter }
  | { type: 'tap-stop'; tapId: string }
  | { type: 'stats-request'; requestId: string };

// What meshctl receives on /v1/tap, one JSON text frame each.
export type TapStreamMessage =
  | { type: 'tapping'; nodeId: string; service: string; namespace: string }
  | { type: 'event'; nodeId: string; event: TapEvent }
  | { type: 'dropped'; nodeId: string; count: number };

// ws hands a text frame over as a Buffer, a list of fragments or an ArrayBuffer, depending on binaryType.
export function frameText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

// A frame's JSON object, for the message parsers to check field by field; undefined for anything else.
export function jsonObject(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}
