// Route layer: matches the request against the service's HTTPRoutes and picks a weighted backend.
import type { RoutePlan, ServiceRoutes } from '@tsmesh/proto';
import type { ServiceName } from '../../discovery/endpoint-resolver.js';
import { InternalError, NoEndpointsError, toMeshError } from '../../errors.js';
import { defaultPlan, pickBackend, routeTable } from '@tsmesh/proto';
import type { OutboundLayer, OutboundRequest, UpstreamResponse } from './types.js';
import type { CancelSignal } from '../../pipeline/cancellation.js';

export interface RouteSource {
  // undefined: no routes known for the service (yet); the default plan applies.
  routes(service: ServiceName): ServiceRoutes | undefined;
  // Called before routes(): lets the source fetch what it does not hold yet (undefined: nothing to wait for).
  prepare?(service: ServiceName, signal: CancelSignal): Promise<void> | undefined;
}

// The default plan of a service whose routes matched nothing, built once per pushed ServiceRoutes (or,
// while none is known, once per service the target layer named).
const defaultPlans = new WeakMap<ServiceRoutes, RoutePlan>();
const plansWithoutRoutes = new WeakMap<ServiceName, RoutePlan>();

function defaultPlanOf(routes: ServiceRoutes | undefined, service: ServiceName): RoutePlan {
  if (routes === undefined) {
    let plan = plansWithoutRoutes.get(service);
    if (plan === undefined) {
      plan = defaultPlan(service);
      plansWithoutRoutes.set(service, plan);
    }
    return plan;
  }
  let plan = defaultPlans.get(routes);
  if (plan === undefined) {
    plan = defaultPlan({ name: routes.service, namespace: routes.namespace });
    defaultPlans.set(routes, plan);
  }
  return plan;
}

export function routeLayer(source: RouteSource | undefined, random: () => number = Math.random): OutboundLayer {
  return (next) => {
    function route(req: OutboundRequest, service: ServiceName): Promise<UpstreamResponse> {
      const routes = source?.routes(service);
      const headers = req.headers;
      const plan =
        (routes && routeTable(routes).select({ method: req.method, path: req.path, header: (name) => headerValue(headers[name]) })) ?? defaultPlanOf(routes, service);
      const backend = pickBackend(plan, random());
      if (!backend) return Promise.reject(new NoEndpointsError(`outbound/route: route ${plan.name} of ${service.name}.${service.namespace} has no backend with a weight above 0`));
      req.route = plan;
      req.backend = backend;
      if (plan.requestTimeoutMs !== null) req.timeoutMs = plan.requestTimeoutMs;
      return next(req);
    }
    // Not async: most requests route without waiting, and need no promise of this layer's own.
    return (req) => {
      const service = req.service;
      if (!service) return Promise.reject(new InternalError('outbound/route: no target service was set before routing'));
      try {
        const pending = source?.prepare?.(service, req.signal);
        return pending ? pending.then(() => route(req, service)) : route(req, service);
      } catch (error) {
        return Promise.reject(toMeshError(error, 'outbound/route'));
      }
    };
  };
}

function headerValue(value: string | number | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : String(value);
}
