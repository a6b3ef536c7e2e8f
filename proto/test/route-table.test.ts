// Route precedence across a service's HTTPRoutes: most specific match first, then route name, then declaration order.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { API_VERSION, routeTable, type HTTPRouteResource, type HTTPRouteSpec, type RequestView, type ServiceRoutes } from '@tsmesh/proto';

function route(name: string, spec: HTTPRouteSpec): HTTPRouteResource {
  return { apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name, namespace: 'shop' }, spec };
}

function routes(...httpRoutes: HTTPRouteResource[]): ServiceRoutes {
  return { service: 'orders', namespace: 'shop', httpRoutes, destinationPolicy: null };
}

const get = (path: string): RequestView => ({ method: 'GET', path, header: () => undefined });

// Every request under /api goes to `backend`; the rule carries no name, so the plan is named "<ns>/<route>#0".
const apiTo = (name: string, backend: string): HTTPRouteResource => route(name, { service: 'orders', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backends: [{ service: backend }] }] });

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);

describe('routeTable', () => {
  it('prefers the more specific match whatever the routes are called', () => {
    const table = routeTable(routes(apiTo('a-broad', 'v1'), route('z-exact', { service: 'orders', rules: [{ matches: [{ path: { type: 'Exact', value: '/api/cart' } }], backends: [{ service: 'v2' }] }] })));
    expect(table.select(get('/api/cart'))?.name).toBe('shop/z-exact#0');
    expect(table.select(get('/api/items'))?.name).toBe('shop/a-broad#0');
  });

  it('breaks a tie between equally specific matches by route name, whatever order they were pushed in', () => {
    for (const pushed of [[apiTo('orders-b', 'v2'), apiTo('orders-a', 'v1')], [apiTo('orders-a', 'v1'), apiTo('orders-b', 'v2')]]) {
      expect(routeTable(routes(...pushed)).select(get('/api/cart'))?.name).toBe('shop/orders-a#0');
    }
  });

  it('orders names by code point: "-" before digits before letters, a prefix before what extends it', () => {
    const names = ['orders1', 'orders', 'orders-2', 'ordersa'];
    const table = routeTable(routes(...names.map((n) => apiTo(n, 'v1'))));
    expect(table.select(get('/api'))?.name).toBe('shop/orders#0');
    for (const [winner, rest] of [['orders-2', ['orders1', 'ordersa']], ['orders1', ['ordersa']]] as const) {
      expect(routeTable(routes(...[...rest, winner].map((n) => apiTo(n, 'v1')))).select(get('/api'))?.name).toBe(`shop/${winner}#0`);
    }
  });

  it('picks the same winner as a locale-aware sort would, for any DNS-label names', () => {
    fc.assert(
      fc.property(fc.uniqueArray(dnsLabel, { minLength: 2, maxLength: 6 }), (names) => {
        const expected = [...names].sort((a, b) => a.localeCompare(b))[0];
        expect(routeTable(routes(...names.map((n) => apiTo(n, 'v1')))).select(get('/api'))?.name).toBe(`shop/${expected}#0`);
      }),
      { numRuns: 300 },
    );
  });
});
