// The target layer: which mesh service an authority names, refusals as 400s, and one parse per authority.
import { describe, expect, it } from 'vitest';
import type { ServiceName } from '../src/discovery/endpoint-resolver.js';
import { serviceKey } from '../src/discovery/endpoint-resolver.js';
import { BadRequestError } from '../src/errors.js';
import { targetLayer } from '../src/outbound/http/target.js';
import { createOutboundRequest, type UpstreamResponse } from '../src/outbound/http/types.js';

function harness(): { send: (authority: string) => Promise<ServiceName> } {
  // The layer's only output is req.service; the terminal answers without looking.
  const handler = targetLayer('default')(() => Promise.resolve({ status: 200 } as unknown as UpstreamResponse));
  return {
    send: async (authority) => {
      const req = createOutboundRequest({ method: 'GET', authority, path: '/', headers: {}, body: null, upgrade: null });
      await handler(req);
      return req.service as ServiceName;
    },
  };
}

describe('target layer', () => {
  it('reads every accepted form of a service authority', async () => {
    const { send } = harness();
    expect(await send('orders')).toEqual({ name: 'orders', namespace: 'default' });
    expect(await send('orders.shop')).toEqual({ name: 'orders', namespace: 'shop' });
    expect(await send('Orders.Shop.svc:8080')).toEqual({ name: 'orders', namespace: 'shop' });
    expect(await send('orders.shop.svc.cluster.local')).toEqual({ name: 'orders', namespace: 'shop' });
  });

  it('refuses what is not a mesh service with a 400 that names the host', async () => {
    const { send } = harness();
    for (const authority of ['', '[::1]:80', 'orders.shop.example.com', 'bad_name.shop']) {
      const refused = await send(authority).then(() => undefined, (error: unknown) => error);
      expect(refused, authority).toBeInstanceOf(BadRequestError);
      expect((refused as BadRequestError).status).toBe(400);
      expect((refused as Error).message).toMatch(/^outbound\/target: /);
    }
  });

  it('parses an authority once: its requests share one frozen service, and its key', async () => {
    const { send } = harness();
    const first = await send('orders.shop');
    const second = await send('orders.shop');
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(serviceKey(second)).toBe('orders.shop');
  });

  it('stays right past the cache bound, for names seen before and after', async () => {
    const { send } = harness();
    const before = await send('orders.shop');
    for (let i = 0; i < 1_500; i++) expect(serviceKey(await send(`svc-${i}.ns-${i % 7}`))).toBe(`svc-${i}.ns-${i % 7}`);
    const after = await send('orders.shop');
    expect(after).toEqual(before);
    expect(await send('orders.shop.bad.suffix').then(() => 'accepted', () => 'refused')).toBe('refused');
  });
});
