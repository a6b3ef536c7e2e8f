// Which app port a peer's request goes to, and in which protocol: only ports this workload declared.
import type { IncomingHttpHeaders } from 'node:http2';
import { APP_PORT_HEADER, APP_PROTOCOL_HEADER } from '../pipeline/headers.js';

export interface AppTargetChoice {
  // null: the default --app-port.
  port: number | null;
  protocol: 'http1' | 'h2';
}

// Nearly every request goes to the default port: one shared answer each, not an object per request.
const DEFAULT_PORT_HTTP1: AppTargetChoice = Object.freeze({ port: null, protocol: 'http1' });
const DEFAULT_PORT_H2: AppTargetChoice = Object.freeze({ port: null, protocol: 'h2' });

// tunnel: a plain CONNECT, whose :authority is the "ip:port" the caller's app dialled. Our own headers are
// removed here, so the app never sees them. A string is the reason for a 400.
export function appTarget(tunnel: boolean, headers: IncomingHttpHeaders, declared: ReadonlySet<number>): AppTargetChoice | string {
  const portHeader = headers[APP_PORT_HEADER];
  const protocolHeader = headers[APP_PROTOCOL_HEADER];
  delete headers[APP_PORT_HEADER];
  delete headers[APP_PROTOCOL_HEADER];
  const protocol = protocolHeader === 'h2' ? 'h2' : 'http1';
  if (protocolHeader !== undefined && protocolHeader !== 'h2') return `${APP_PROTOCOL_HEADER} "${String(protocolHeader)}" is not h2`;
  let portText = typeof portHeader === 'string' ? portHeader : undefined;
  if (tunnel) {
    const authority = headers[':authority'] ?? '';
    const colon = authority.lastIndexOf(':');
    portText = colon > 0 ? authority.slice(colon + 1) : '';
    if (!/^\d{1,5}$/.test(portText)) return `CONNECT authority "${authority}" is not ip:port`;
  }
  if (portText === undefined) return protocol === 'h2' ? DEFAULT_PORT_H2 : DEFAULT_PORT_HTTP1;
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || !declared.has(port)) {
    return `port ${portText} is not one this workload serves (declared: ${[...declared].sort((a, b) => a - b).join(', ') || 'none'}; see --app-ports)`;
  }
  return { port, protocol };
}
