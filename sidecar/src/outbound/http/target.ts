// Route/target layer: which mesh service the app meant, from the authority it addressed.
import { isValidName } from '@tsmesh/proto';
import type { ServiceName } from '../../discovery/endpoint-resolver.js';
import { BadRequestError } from '../../errors.js';
import type { OutboundLayer } from './types.js';

export type TargetParse = { ok: true; service: ServiceName } | { ok: false; reason: string };

// Accepts <svc>, <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local; a :port suffix is ignored for now.
export function parseServiceAuthority(authority: string, localNamespace: string): TargetParse {
  if (authority === '') return { ok: false, reason: 'the request names no host (no absolute-form target and no Host header)' };
  if (authority.charCodeAt(0) === 91 /* '[' */) return { ok: false, reason: `host "${authority}" is an IP literal, not a mesh service` };
  const colon = authority.lastIndexOf(':');
  const host = (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
  const labels = host.split('.');
  const [name = '', namespace = localNamespace] = labels;
  const suffixOk =
    labels.length <= 2 ||
    (labels.length === 3 && labels[2] === 'svc') ||
    (labels.length === 5 && labels[2] === 'svc' && labels[3] === 'cluster' && labels[4] === 'local');
  if (!suffixOk || !isValidName(name) || !isValidName(namespace)) {
    return { ok: false, reason: `host "${authority}" is not <service>[.<namespace>[.svc[.cluster.local]]]` };
  }
  return { ok: true, service: { name, namespace } };
}

// Apps call a handful of services by the same few names: each authority is parsed once, and every request
// to it shares one frozen ServiceName (which also keeps serviceKey's memo small).
const MAX_CACHED_AUTHORITIES = 1_024;

export function targetLayer(localNamespace: string): OutboundLayer {
  const parsedAuthorities = new Map<string, ServiceName>();
  return (next) => (req) => {
    // Transparent mode knows the service from the address the app dialled; the Host may be an IP.
    if (req.service !== null) return next(req);
    let service = parsedAuthorities.get(req.authority);
    if (service === undefined) {
      const parsed = parseServiceAuthority(req.authority, localNamespace);
      if (!parsed.ok) return Promise.reject(new BadRequestError(`outbound/target: ${parsed.reason}`));
      service = Object.freeze(parsed.service);
      // A caller inventing names cannot grow this without bound; the common names come back at once.
      if (parsedAuthorities.size >= MAX_CACHED_AUTHORITIES) parsedAuthorities.clear();
      parsedAuthorities.set(req.authority, service);
    }
    req.service = service;
    return next(req);
  };
}
