// Load balancer: resolve the service's live endpoints and pick one, round robin per service.
import type { EndpointResolver, ResolveFailure } from '../../discovery/endpoint-resolver.js';
import { serviceKey } from '../../discovery/endpoint-resolver.js';
import { DiscoveryUnavailableError, InternalError, NoEndpointsError, NoRouteError, type MeshError } from '../../errors.js';
import { cancelReason, type OutboundLayer } from './types.js';

function failureToError(failure: ResolveFailure, service: string): MeshError {
  switch (failure.kind) {
    case 'unknown-service':
      return new NoRouteError(`outbound/route: no service ${service} in the mesh (${failure.message})`);
    case 'no-endpoints':
      return new NoEndpointsError(`outbound/balancer: service ${service} has no live endpoint (${failure.message})`);
    case 'unavailable':
      return new DiscoveryUnavailableError(`outbound/balancer: discovery could not resolve ${service} (${failure.message})`);
  }
}

export function roundRobinLayer(resolver: EndpointResolver): OutboundLayer {
  // Cursor per service key; it only ever grows, modulo the endpoint count at pick time.
  const cursors = new Map<string, number>();
  return (next) => async (req) => {
    const service = req.service;
    if (!service) throw new InternalError('outbound/balancer: no target service was set before balancing');
    const key = serviceKey(service);
    const resolved = await resolver.resolve(service, req.signal);
    if (req.signal.aborted) throw cancelReason(req);
    if (!resolved.ok) throw failureToError(resolved.error, key);
    const endpoints = resolved.value;
    if (endpoints.length === 0) throw new NoEndpointsError(`outbound/balancer: service ${key} has no live endpoint`);
    const cursor = cursors.get(key) ?? 0;
    cursors.set(key, cursor + 1 >= Number.MAX_SAFE_INTEGER ? 0 : cursor + 1);
    req.endpoint = endpoints[cursor % endpoints.length] ?? null;
    return next(req);
  };
}
