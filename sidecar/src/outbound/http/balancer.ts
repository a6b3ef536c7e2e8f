// Load balancer: resolve the backend's live endpoints and pick one with the destination's strategy.
import type { EndpointResolver, ResolveFailure, ServiceEndpoint, ServiceName } from '../../discovery/endpoint-resolver.js';
import type { Result } from '@tsmesh/proto';
import { serviceKey } from '../../discovery/endpoint-resolver.js';
import { DiscoveryUnavailableError, InternalError, NoEndpointsError, NoRouteError, toMeshError, type MeshError } from '../../errors.js';
import type { Destinations } from '../destinations.js';
import { cancelReason, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from './types.js';

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

export interface ConnectionCounter {
  has(endpoint: ServiceEndpoint): boolean;
}

// The endpoint list the outlier detector last saw, per detector: discovery hands out the same array until
// the endpoints change, so the detector is told only about changes, not on every request.
const told = new WeakMap<object, readonly ServiceEndpoint[]>();

export function balancerLayer(resolver: EndpointResolver, destinations: Destinations, connections: ConnectionCounter): OutboundLayer {
  return (next) => {
    function balance(req: OutboundRequest, backend: ServiceName, resolved: Result<ServiceEndpoint[], ResolveFailure>): Promise<UpstreamResponse> {
      const key = serviceKey(backend);
      if (req.signal.aborted) throw cancelReason(req);
      if (!resolved.ok) throw failureToError(resolved.error, key);
      // An app that dialled one pod's address means that pod (a StatefulSet peer, a headless service): no balancing.
      const pinned = req.pinnedNodeId !== null && req.backend !== null && serviceKey(req.backend) === serviceKey(req.service ?? req.backend) ? req.pinnedNodeId : null;
      const endpoints = pinned === null ? resolved.value : resolved.value.filter((e) => e.nodeId === pinned);
      if (endpoints.length === 0) {
        throw new NoEndpointsError(pinned === null ? `outbound/balancer: service ${key} has no live endpoint` : `outbound/balancer: the pod the app dialled (${pinned}) is not a live endpoint of ${key}`);
      }
      const destination = destinations.get(backend);
      if (told.get(destination.outliers) !== resolved.value) {
        destination.outliers.setEndpoints(resolved.value.map((e) => e.address));
        told.set(destination.outliers, resolved.value);
      }
      // At the connection limit, only endpoints already connected are candidates.
      const max = destination.maxConnections;
      const atLimit = max !== null && endpoints.reduce((n, e) => (connections.has(e) ? n + 1 : n), 0) >= max;
      // Ejected endpoints are skipped, endpoints that already failed this request are tried last.
      const pick = destination.balancer.pick(endpoints, { avoid: req.avoid ?? undefined, exclude: (e) => destination.outliers.isEjected(e.address) || (atLimit && !connections.has(e)) });
      if (!pick) throw new NoEndpointsError(`outbound/balancer: service ${key} has no endpoint to pick`);
      req.endpoint = pick.endpoint;
      req.connectTimeoutMs = destination.connectTimeoutMs;
      const started = performance.now();
      return next(req).then(
        (response) => {
          pick.done({ ok: response.status < 500, rttMs: performance.now() - started });
          return response;
        },
        (error: unknown) => {
          pick.done({ ok: false, rttMs: performance.now() - started });
          throw error;
        },
      );
    }
    // Not async: with the endpoints known (nearly always) the request needs no promise of this layer's own.
    return (req) => {
      const backend = req.backend ?? req.service;
      if (!backend) return Promise.reject(new InternalError('outbound/balancer: no target service was set before balancing'));
      try {
        const known = resolver.resolveKnown?.(backend);
        if (known !== undefined) return balance(req, backend, known);
        return resolver.resolve(backend, req.signal).then((resolved) => balance(req, backend, resolved));
      } catch (error) {
        return Promise.reject(toMeshError(error, 'outbound/balancer'));
      }
    };
  };
}
