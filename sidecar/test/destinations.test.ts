// Per-destination state follows pushed DestinationPolicy: kept across a push of the same policy, rebuilt on a change.
import { describe, expect, it } from 'vitest';
import { API_VERSION, validateResource, type DestinationPolicyResource, type ServiceRoutes } from '@tsmesh/proto';
import { Destinations } from '../src/outbound/destinations.js';
import type { RouteSource } from '../src/outbound/http/route.js';

const WEB = { name: 'web', namespace: 'shop' };

// A fresh, validated object graph per push, as the config client makes them from each pushed snapshot.
function policy(consecutiveFailures: number): DestinationPolicyResource {
  const result = validateResource({
    apiVersion: API_VERSION,
    kind: 'DestinationPolicy',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { service: 'web', circuitBreaker: { consecutiveFailures, openTime: '5s' } },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value as DestinationPolicyResource;
}

function source(): RouteSource & { push(p: DestinationPolicyResource | null): void } {
  let current: ServiceRoutes = { service: 'web', namespace: 'shop', httpRoutes: [], destinationPolicy: null };
  return {
    routes: () => current,
    push: (p) => {
      current = { service: 'web', namespace: 'shop', httpRoutes: [], destinationPolicy: p };
    },
  };
}

describe('Destinations', () => {
  it('keeps one destination, and its breaker state, while the policy stays the same across pushes', () => {
    const routes = source();
    routes.push(policy(2));
    const destinations = new Destinations(routes);
    const first = destinations.get(WEB);
    first.breaker!.onFailure();
    first.breaker!.onFailure();
    expect(first.breaker!.state).toBe('open');
    routes.push(policy(2));
    expect(destinations.get(WEB)).toBe(first);
    expect(destinations.get(WEB).breaker!.state).toBe('open');
  });

  it('rebuilds on a changed policy and on its removal, keeping the counters', () => {
    const routes = source();
    routes.push(policy(2));
    const destinations = new Destinations(routes);
    const first = destinations.get(WEB);
    first.counters.retries = 7;
    routes.push(policy(5));
    const changed = destinations.get(WEB);
    expect(changed).not.toBe(first);
    expect(changed.counters.retries).toBe(7);
    for (let i = 0; i < 4; i++) changed.breaker!.onFailure();
    expect(changed.breaker!.state).toBe('closed');
    routes.push(null);
    const removed = destinations.get(WEB);
    expect(removed).not.toBe(changed);
    // Without a policy's circuitBreaker there is none (decision 0020).
    expect(removed.breaker).toBeNull();
    expect(destinations.get(WEB)).toBe(removed);
    expect(destinations.getByKey('web.shop')).toBe(removed);
  });
});
