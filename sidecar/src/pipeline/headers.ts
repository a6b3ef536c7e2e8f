// Header conversion between HTTP/1.1 (app side) and HTTP/2 (between sidecars): hop-by-hop headers never cross.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { lowerFieldNameAt } from '../transport/common-fields.js';
import type { FieldFilter } from '../transport/http1-write.js';
import { headerBag } from '../transport/header-bag.js';

// RFC 9110 7.6.1 connection-specific fields, plus the legacy ones clients still send; HTTP/2 forbids them all.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'te',
  'host',
  // The outbound listener already answered 100-continue to the app; the peer must not wait for it again.
  'expect',
]);

// Connection-specific: never carried from one hop to the next.
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

// The only caller-supplied header the inbound side overwrites; the app trusts it, so callers never set it.
export const PEER_IDENTITY_HEADER = 'x-mesh-peer-identity';
// Between sidecars only (the inbound side removes them): which declared app port a transparently
// intercepted request was dialled to, and "h2" when the app spoke HTTP/2 to it.
export const APP_PORT_HEADER = 'x-mesh-app-port';
export const APP_PROTOCOL_HEADER = 'x-mesh-app-protocol';

function connectionTokens(value: string, into: string[]): void {
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !HOP_BY_HOP.has(name)) into.push(name);
  }
}

// HTTP/1.1 raw headers (name, value pairs) -> HTTP/2 regular headers; the Host value is returned apart.
export function h1RequestToH2(rawHeaders: readonly string[], out: OutgoingHttpHeaders): string | undefined {
  let host: string | undefined;
  let listed: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string;
    const name = lowerFieldNameAt(raw, raw.length);
    const value = rawHeaders[i + 1] as string;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'host') host ??= value;
      else if (name === 'connection') connectionTokens(value, (listed ??= []));
      // "TE: trailers" is the one TE value HTTP/2 allows, and gRPC-style apps need it end to end.
      else if (name === 'te' && value.trim().toLowerCase() === 'trailers') out['te'] = 'trailers';
      continue;
    }
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [String(previous), value];
  }
  if (listed) for (const name of listed) delete out[name];
  return host;
}

// HTTP/2 headers as Node parses them (pseudo-headers included) -> HTTP/1.1 headers; `omit` names the fields
// left out besides pseudo-headers (hop-by-hop ones unless told otherwise).
export function h2ToH1(headers: IncomingHttpHeaders, out: OutgoingHttpHeaders, omit: FieldFilter = isHopByHop): OutgoingHttpHeaders {
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || omit(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

// HTTP/1.1 response headers from the app -> HTTP/2 response headers, :status first.
export function h1ResponseToH2(headers: IncomingHttpHeaders, status: number): OutgoingHttpHeaders {
  const out = headerBag<OutgoingHttpHeaders>();
  out[':status'] = status;
  let listed: string[] | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection' && typeof value === 'string') connectionTokens(value, (listed ??= []));
      continue;
    }
    out[name] = value;
  }
  if (listed) for (const name of listed) delete out[name];
  return out;
}

// HTTP/2 from the app (h2c, gRPC) -> HTTP/2 to the peer, and the peer's answer back: hop-by-hop fields and ours
// never cross, "TE: trailers" does (gRPC needs it end to end); pseudo-headers only where asked (a response's :status).
export function h2ToH2(headers: IncomingHttpHeaders, out: OutgoingHttpHeaders, keepPseudo: boolean): OutgoingHttpHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (keepPseudo) out[name] = value;
      continue;
    }
    if (HOP_BY_HOP.has(name) || name === APP_PORT_HEADER || name === APP_PROTOCOL_HEADER) {
      if (name === 'te' && value === 'trailers') out['te'] = 'trailers';
      continue;
    }
    out[name] = value;
  }
  return out;
}
