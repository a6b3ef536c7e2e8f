// Retries, timeouts and the retry budget over real sidecars: what the caller sees and what reached the upstream.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPair } from '@tsmesh/proto';
import { Cleanup, send } from './support/mesh.js';
import { createTestCa, keyPairs, type TestCa } from './support/pki.js';
import { hang, ok, startCaller, startUpstream, status } from './support/traffic.js';
import { createTelemetry } from '../src/telemetry/telemetry.js';
import { startOtlpReceiver } from '../../test-support/otlp-receiver.js';

let ca: TestCa;
let keys: KeyPair[];
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(async () => {
  keys = await keyPairs(3);
  ca = createTestCa(keys[0]!, 'traffic test CA');
});

const get = (port: number, path = '/', method = 'GET'): ReturnType<typeof send> => send(port, { method, path, headers: { host: 'orders.shop' }, ...(method === 'POST' ? { body: '{"x":1}' } : {}) });

describe('retries', () => {
  it('retries a 503 on a GET until it succeeds, and does not retry a POST unless the route says so', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', (_req, res, hit) => {
      res.statusCode = hit % 3 === 0 ? 200 : 503;
      res.end();
    });
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 3, on: ['503'], backoff: { base: '1ms', max: '5ms' } } }] }]);
    expect((await get(caller.port)).status).toBe(200);
    expect(upstream.hits()).toBe(3);
    const post = await get(caller.port, '/', 'POST');
    expect(post.status).toBe(503);
    expect(upstream.hits()).toBe(4);
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 3, on: ['503'], retryNonIdempotent: true, backoff: { base: '1ms', max: '5ms' } } }] }]);
    const retriedPost = await get(caller.port, '/', 'POST');
    expect(retriedPost.status).toBe(200);
    expect(upstream.hits()).toBe(6);
  });

  it('retries a connection failure on another endpoint, even for a POST (it never reached the peer)', async () => {
    const good = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    const dead = { address: '127.0.0.1:1', identity: good.endpoint.identity, nodeId: 'dead' };
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [dead, good.endpoint] });
    for (let i = 0; i < 6; i++) expect((await get(caller.port, '/', 'POST')).status).toBe(200);
    expect(good.hits()).toBe(6);
  });

  it('replays a request body on retry, and does not retry one larger than the replay buffer', async () => {
    const bodies: string[] = [];
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders');
    upstream.behave((req, res, hit) => {
      res.statusCode = hit === 1 || hit === 3 ? 503 : 200;
      res.end();
    });
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 2, on: ['503'], retryNonIdempotent: true, backoff: { base: '1ms', max: '2ms' } } }] }]);
    const small = await send(caller.port, { method: 'PUT', path: '/', headers: { host: 'orders.shop' }, body: 'x'.repeat(1000) });
    expect(small.status).toBe(200);
    expect(upstream.hits()).toBe(2);
    const big = await send(caller.port, { method: 'PUT', path: '/', headers: { host: 'orders.shop' }, body: 'y'.repeat(200_000) });
    expect(big.status).toBe(503);
    expect(upstream.hits()).toBe(3);
    void bodies;
  });

  it('spends at most ~20% extra under a total outage, thanks to the retry budget', async () => {
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', status(503));
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] });
    caller.setRoutes(
      'orders',
      [{ service: 'orders', rules: [{ retries: { attempts: 3, on: ['503'], backoff: { base: '1ms', max: '1ms' } } }] }],
      { service: 'orders', retryBudget: { percent: 20, minRetriesPerSecond: 1, ttl: '10s' }, circuitBreaker: { consecutiveFailures: 1_000_000 }, outlierDetection: { consecutiveErrors: 1_000_000 } },
    );
    const requests = 400;
    const started = Date.now();
    for (let i = 0; i < requests; i += 8) await Promise.all(Array.from({ length: 8 }, () => get(caller.port)));
    const seconds = (Date.now() - started) / 1000;
    const sent = upstream.hits();
    // 20% of the requests plus the floor of 1 retry/s over the run (and the 10 s window), not 4x.
    expect(sent).toBeGreaterThanOrEqual(requests);
    expect(sent).toBeLessThanOrEqual(Math.ceil(requests * 1.2 + 10 + seconds));
  }, 30_000);
});

describe('timeouts', () => {
  it('uses the per-try timeout to move off a hung endpoint, within the overall deadline', async () => {
    const hung = await startUpstream(cleanup, ca, keys[1]!, 'orders', hang);
    const fast = await startUpstream(cleanup, ca, keys[1]!, 'orders', ok);
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [hung.endpoint, fast.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ timeouts: { request: '3s', perTry: '150ms' }, retries: { attempts: 2, on: ['reset'], backoff: { base: '1ms', max: '2ms' } } }] }]);
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const reply = await get(caller.port);
      expect(reply.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    // The hung endpoint's app saw its request cancelled, not left running.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hung.aborted()).toBe(hung.hits());
  });

  it('answers 504 when the route timeout passes, and cancels the upstream request', async () => {
    const hung = await startUpstream(cleanup, ca, keys[1]!, 'orders', hang);
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [hung.endpoint] });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ timeouts: { request: '200ms' }, retries: { attempts: 0 } }] }]);
    const started = Date.now();
    const reply = await get(caller.port);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-mesh-error']).toBe('MESH_ERR_UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(1_500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hung.aborted()).toBe(1);
  });
});

describe('retries in traces', () => {
  it('shows each try as its own client span under the one outbound span', async () => {
    const receiver = await startOtlpReceiver();
    cleanup.add(() => receiver.close());
    const telemetry = await createTelemetry({ service: { name: 'caller', namespace: 'shop' }, spiffeId: 'spiffe://cluster.local/ns/shop/sa/caller', tracing: { exporter: { protocol: 'http/protobuf', endpoint: receiver.httpEndpoint }, samplingPercent: 100 } });
    cleanup.add(() => telemetry.close());
    const upstream = await startUpstream(cleanup, ca, keys[1]!, 'orders', (_req, res, hit) => {
      res.statusCode = hit === 1 ? 503 : 200;
      res.end();
    });
    const caller = await startCaller(cleanup, ca, keys[2]!, { 'orders.shop': [upstream.endpoint] }, { telemetry });
    caller.setRoutes('orders', [{ service: 'orders', rules: [{ retries: { attempts: 2, on: ['503'], backoff: { base: '1ms', max: '2ms' } } }] }]);
    expect((await get(caller.port)).status).toBe(200);
    await telemetry.tracing.forceFlush();
    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.kind === 'CLIENT').length >= 2, 5_000);
    const clients = spans.filter((s) => s.kind === 'CLIENT');
    expect(clients.map((s) => s.attributes['mesh.retry.attempt']).sort()).toEqual([1, 2]);
    const parents = new Set(clients.map((s) => s.parentSpanId));
    expect(parents.size).toBe(1);
    const outbound = spans.find((s) => s.spanId === [...parents][0]);
    expect(outbound?.kind).not.toBe('CLIENT');
    expect(clients.find((s) => s.attributes['mesh.retry.attempt'] === 1)?.attributes['http.response.status_code']).toBe(503);
  });
});
