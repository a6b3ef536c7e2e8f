// The balancer with a pinned endpoint: a pod dialled by its own IP in transparent mode is the one that serves.
import { describe, expect, it } from 'vitest';
import type { ServiceEndpoint } from '../src/discovery/endpoint-resolver.js';
import { NoEndpointsError } from '../src/errors.js';
import { Destinations } from '../src/outbound/destinations.js';
import { balancerLayer } from '../src/outbound/http/balancer.js';
import { createOutboundRequest, type UpstreamResponse } from '../src/outbound/http/types.js';
import { staticResolver } from './support/mesh.js';

const endpoint = (name: string): ServiceEndpoint => ({ address: `10.0.0.${name.charCodeAt(0)}:15006`, identity: 'spiffe://cluster.local/ns/shop/sa/web', nodeId: name });
const ENDPOINTS = ['a', 'b', 'c'].map(endpoint);

function balance(pinned: string | null): Promise<string> {
  const layer = balancerLayer(staticResolver({ 'web.shop': ENDPOINTS }), new Destinations(undefined), { has: () => false });
  const handler = layer((req) => Promise.resolve({ status: 200, headers: {}, body: null as never, endpoint: req.endpoint } as UpstreamResponse & { endpoint: ServiceEndpoint }));
  const req = createOutboundRequest({ method: 'GET', authority: '10.0.0.98:8080', path: '/', headers: {}, body: null, upgrade: null });
  req.service = { name: 'web', namespace: 'shop' };
  req.backend = req.service;
  req.pinnedNodeId = pinned;
  return handler(req).then(() => req.endpoint!.nodeId);
}

describe('balancer with a pinned endpoint', () => {
  it('sends every request for a dialled pod to that pod, and spreads the others', async () => {
    const pinned = await Promise.all(Array.from({ length: 30 }, () => balance('b')));
    expect(new Set(pinned)).toEqual(new Set(['b']));
    const spread = await Promise.all(Array.from({ length: 30 }, () => balance(null)));
    expect(new Set(spread).size).toBeGreaterThan(1);
  });

  it('refuses, naming the pod, when the dialled pod is not a live endpoint', async () => {
    await expect(balance('gone')).rejects.toThrow(NoEndpointsError);
    await expect(balance('gone')).rejects.toThrow(/the pod the app dialled \(gone\) is not a live endpoint of web\.shop/);
  });
});
