// Parsing what the control plane sends on a sidecar's stream (/v1/sidecar); the message types live in @tsmesh/proto.
import { jsonObject, type ControlPlaneMessage, type TapFilter } from '@tsmesh/proto';

export { frameText } from '@tsmesh/proto';
export type { TapFilter, TapEvent, SidecarMessage, ControlPlaneMessage } from '@tsmesh/proto';

const isString = (value: unknown): value is string => typeof value === 'string';

// The control plane is trusted, but a newer one may send what this sidecar does not know: that is ignored, not thrown.
export function parseControlPlaneMessage(text: string): ControlPlaneMessage | undefined {
  const m = jsonObject(text);
  if (m === undefined) return undefined;
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
