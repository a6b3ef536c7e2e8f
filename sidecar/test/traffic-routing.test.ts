// Routing, breaking, limits and shedding over real sidecars: splits, header routes, faults, ejection, 429 and 503.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, type KeyPair } from '@tsmesh/proto';
import { Cleanup, send } from './support/mesh.js';
import { createTestCa, keyPairs, type TestCa } from './support/pki.js';
import { hang, ok, openInboundPolicy, startCaller, startUpstream, status } from './support/traffic.js';

let ca: TestCa;
let keys: KeyPair[];
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(async () => {
  keys = await keyPairs(3);
  ca = createTestCa(keys[0]!, 'routing test CA');
});

const get = (port: number, headers: Record<string, string> = {}, path = '/'): ReturnType<typeof send> => send(port, { path, headers: { host: 'orders.shop', ...headers } });

async function many(count: number, concurrency: number, one: () => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < count) await one();
  }));
}

describe('routing', () => {
  it('splits 90/10 between weighted backends within a few percent', async () => {
    const v1 = await startUpstream(cleanup, ca, keys[1]!, 'orders-v1');
    const v2 = await startUpstream(cleanup, ca, keys[1]!, 'orders-v2');
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [v1.endpoint], 'orders-v1.shop': [v1.endpoint], 'orders-v2.shop': [v2.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ backends: [{ service: 'orders-v1', weight: 90 }, { service: 'orders-v2', weight: 10 }] }] }]);
    await many(2_000, 16, () => get(caller.port));
    const share = v2.hits() / (v1.hits() + v2.hits());
    expect(v1.hits() + v2.hits()).toBe(2_000);
    expect(share).toBeGreaterThan(0.07);
    expect(share).toBeLessThan(0.13);
  }, 30_000);

  it('routes by header and by path, most specific match first', async () => {
    const stable = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    const canary = await startUpstream(cleanup, ca, keys[1]!, 'orders-canary');
    const admin = await startUpstream(cleanup, ca, keys[1]!, 'orders-admin');
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [stable.endpoint], 'orders-canary.shop': [canary.endpoint], 'orders-admin.shop': [admin.endpoint] });
    caller.setRoutes('orders', [
      { service: 'orders', rules: [{ matches: [{ headers: [{ name: 'x-canary', value: 'yes' }] }], backends: [{ service: 'orders-canary' }] }, { backends: [{ service: 'orders' }] }] },
      { service: 'orders', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backends: [{ service: 'orders-admin' }] }] },
    ]);
    await get(caller.port, { 'x-canary': 'yes' });
    await get(caller.port, { 'x-canary': 'no' });
    await get(caller.port, {}, '/admin/users');
    await get(caller.port, {}, '/administrator');
    expect([stable.hits(), canary.hits(), admin.hits()]).toEqual([2, 1, 1]);
  });

  it('injects faults: aborts with the configured status, and delays', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ fault: { abort: { percent: 100, status: 418 } } }] }]);
    const aborted = await get(caller.port);
    expect(aborted.status).toBe(418);
    expect(aborted.headers['x-mesh-error']).toBe('MESH_ERR_FAULT_INJECTED');
    expect(upstream.hits()).toBe(0);
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ fault: { delay: { percent: 100, duration: '200ms' } } }] }]);
    const started = Date.now();
    expect((await get(caller.port)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('applies a route change live without failing requests in flight', async () => {
    const v1 = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    const v2 = await startUpstream(cleanup, ca, keys[1]!, 'orders-v2');
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [v1.endpoint], 'orders-v2.shop': [v2.endpoint] });
    const failures: number[] = [];
    let flips = 0;
    await many(400, 8, async () => {
      if (++flips % 50 === 0) caller.setRoutes('orders', [{ service: 'orders', rules: [{ backends: [{ service: flips % 100 === 0 ? 'orders' : 'orders-v2' }] }] }]);
      const reply = await get(caller.port);
      if (reply.status !== 200) failures.push(reply.status);
    });
    expect(failures).toEqual([]);
    expect(v2.hits()).toBeGreaterThan(0);
  }, 20_000);
});

describe('breaking and ejection', () => {
  it('ejects an endpoint after consecutive 503s, sends traffic elsewhere, and lets it back after the ejection time', async () => {
    const bad = await startUpstream(cleanup, ca, keys[1]!, 'orders', status(503));
    const good = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [bad.endpoint, good.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }], { service: 'orders', outlierDetection: { consecutiveErrors: 3, baseEjectionTime: '400ms', maxEjectionPercent: 50 } });
    await many(40, 1, () => get(caller.port));
    expect(bad.hits()).toBe(3);
    const hitsWhileEjected = bad.hits();
    bad.behave(ok);
    await new Promise((resolve) => setTimeout(resolve, 450));
    await many(40, 1, () => get(caller.port));
    expect(bad.hits()).toBeGreaterThan(hitsWhileEjected);
  }, 20_000);

  it('has no circuit breaker unless a DestinationPolicy sets one: a single endpoint that recovers is reached at once', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', status(503));
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }]);
    for (let i = 0; i < 10; i++) expect((await get(caller.port)).status).toBe(503);
    expect(upstream.hits()).toBe(10);
    upstream.behave(ok);
    expect((await get(caller.port)).status).toBe(200);
    expect(caller.logs.filter((r) => r.message.startsWith('circuit'))).toEqual([]);
  });

  it('opens the circuit after repeated failures, refuses fast with 503, and closes after one good probe', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', status(503));
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }], { service: 'orders', circuitBreaker: { consecutiveFailures: 5, openTime: '300ms' }, outlierDetection: { consecutiveErrors: 1000 } });
    for (let i = 0; i < 5; i++) expect((await get(caller.port)).status).toBe(503);
    const refused = await get(caller.port);
    expect(refused.headers['x-mesh-error']).toBe('MESH_ERR_CIRCUIT_OPEN');
    expect(upstream.hits()).toBe(5);
    // A slow answer keeps the probe in flight while the others arrive.
    upstream.behave((_req, res) => setTimeout(() => res.end('ok'), 150));
    await new Promise((resolve) => setTimeout(resolve, 350));
    // Half-open: exactly one probe reaches the upstream while the rest are refused.
    const replies = await Promise.all(Array.from({ length: 5 }, () => get(caller.port)));
    expect(upstream.hits()).toBe(6);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect((await get(caller.port)).status).toBe(200);
    // The log says when the circuit opened, on what, and when it closed.
    const circuitLines = caller.logs.filter((r) => r.message.startsWith('circuit'));
    expect(circuitLines.map((r) => [r.level, r.message, r.fields?.['destination']])).toEqual([
      ['warn', 'circuit opened: requests are refused with 503 MESH_ERR_CIRCUIT_OPEN until a probe succeeds', 'orders.shop'],
      ['info', 'circuit closed: a probe succeeded', 'orders.shop'],
    ]);
    expect(circuitLines[0]?.fields?.['lastOutcome']).toBe(`503 from ${upstream.endpoint.address}`);
    expect(circuitLines[1]?.fields?.['lastOutcome']).toBe(`200 from ${upstream.endpoint.address}`);
  });

  it('keeps to maxConnections: with a limit of 1, one endpoint of three gets every request', async () => {
    const upstreams = await Promise.all([0, 1, 2].map(() => startUpstream(cleanup, ca, keys[1]!, 'orders')));
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': upstreams.map((u) => u.endpoint) });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }], { service: 'orders', connectionPool: { maxConnections: 1 } });
    // The limit is approximate for requests racing before the first connection exists (as Envoy's).
    await get(caller.port);
    await many(29, 4, () => get(caller.port));
    expect(upstreams.map((u) => u.hits()).filter((h) => h > 0)).toEqual([30]);
  });

  it('fails fast with 503 over the connection-pool limit so a slow service cannot take all capacity', async () => {
    const slow = await startUpstream(cleanup, ca, keys[1]!, 'orders', hang);
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [slow.endpoint] }, { defaultTimeoutMs: 1_000 });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }], { service: 'orders', connectionPool: { maxConcurrentRequests: 2, maxPendingRequests: 0 } });
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 5 }, () => get(caller.port)));
    const overflow = replies.filter((r) => r.headers['x-mesh-error'] === 'MESH_ERR_POOL_OVERFLOW');
    expect(overflow).toHaveLength(3);
    expect(overflow.every((r) => r.status === 503)).toBe(true);
    expect(replies.filter((r) => r.status === 504)).toHaveLength(2);
    expect(slow.hits()).toBe(2);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('inbound limits', () => {
  it('answers 429 with Retry-After over the per-caller rate limit', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    upstream.setPolicy({ ...openInboundPolicy('orders'), rateLimitPolicy: { apiVersion: API_VERSION, kind: 'RateLimitPolicy', metadata: { name: 'orders', namespace: 'shop' }, spec: { service: 'orders', perCaller: { requestsPerSecond: 1, burst: 3 } } } });
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await get(caller.port));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(replies[3]?.headers['retry-after']).toBe('1');
    expect(replies[3]?.headers['x-mesh-error']).toBe('MESH_ERR_RATE_LIMITED');
    expect(String(replies[3]?.headers['x-mesh-reason'])).toContain('spiffe://cluster.local/ns/shop/sa/caller is over its limit in RateLimitPolicy shop/orders');
    expect(upstream.hits()).toBe(3);
  });

  it('sheds load with 503 when the sidecar has too much in flight', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', hang, { maxInFlight: 2 });
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] }, { defaultTimeoutMs: 800 });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 0 } }] }]);
    const replies = await Promise.all(Array.from({ length: 4 }, () => get(caller.port)));
    const shed = replies.filter((r) => r.headers['x-mesh-error'] === 'MESH_ERR_OVERLOADED');
    expect(shed).toHaveLength(2);
    expect(shed[0]?.status).toBe(503);
    expect(upstream.hits()).toBe(2);
    // One warning when shedding starts, not one per refusal.
    const started = upstream.logs.filter((r) => r.message.startsWith('load shedding started'));
    expect(started).toHaveLength(1);
    expect(started[0]?.level).toBe('warn');
    expect(started[0]?.fields?.['reason']).toBe('sidecar overloaded: 2 requests in flight (limit 2)');
  });
});
