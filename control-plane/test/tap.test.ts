// The stream server over real mTLS WebSockets: who may tap, events relayed from sidecars, the rate bound, stop on disconnect, stats.
import type { RequestOptions } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { MeshctlConfig } from '@tsmesh/control-plane';
import { startTestControlPlane, testLogger, eventually, type TestControlPlane } from '../../test-support/control-plane.js';
import { startStreamServer, type RunningStreamServer } from '../src/tap/stream-server.js';
import { streamTap, fetchStats, StreamApiError } from '../src/tap/client.js';
import type { TapStreamMessage } from '../src/tap/protocol.js';
import type { TlsMaterial } from '../../sidecar/src/identity/tls-material.js';
import { MutableTlsMaterialSource } from '../../sidecar/src/identity/tls-material.js';
import { TapSink } from '../../sidecar/src/tap/sink.js';
import { ControlPlaneStream } from '../../sidecar/src/tap/stream-client.js';

let cp: TestControlPlane;
let server: RunningStreamServer;
let admin: MeshctlConfig;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  cp = await startTestControlPlane();
  server = await startStreamServer({ listen: '127.0.0.1:0', ca: cp.running.ca, spiffeId: cp.controlPlaneIdentity, logger: testLogger, statsTimeoutMs: 1_000 });
  admin = await cp.adminConfig();
});

afterAll(async () => {
  for (const o of open) o.close();
  await server?.close();
  await cp?.cleanup();
});

// A sidecar's end by hand: real certificate, raw frames, so the test sees exactly what the control plane sends.
async function fakeSidecar(material: TlsMaterial, hello: { nodeId: string; service: string; namespace: string }): Promise<{ ws: WebSocket; received: Array<Record<string, unknown>>; closed: Promise<{ code: number; reason: string }> }> {
  const options: RequestOptions = { ca: material.trustBundlePem, cert: material.certChainPem, key: material.keyPem, servername: 'mesh-control-plane', checkServerIdentity: () => undefined };
  const ws = new WebSocket(`wss://${server.address}/v1/sidecar`, options);
  const received: Array<Record<string, unknown>> = [];
  ws.on('message', (data: Buffer) => received.push(JSON.parse(data.toString()) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'hello', ...hello }));
  open.push({ close: () => ws.terminate() });
  return { ws, received, closed };
}

function startTap(config: MeshctlConfig, query: { service: string; namespace: string; path?: string; headers?: boolean }): { messages: TapStreamMessage[]; stop(): void; done: Promise<void> } {
  const controller = new AbortController();
  const messages: TapStreamMessage[] = [];
  const done = streamTap(config, server.address, { headers: false, ...query }, controller.signal, (m) => messages.push(m));
  open.push({ close: () => controller.abort() });
  return { messages, stop: () => controller.abort(), done };
}

const event = (path: string, status = 200): object => ({ time: new Date().toISOString(), direction: 'inbound', method: 'GET', path, authority: 'orders.shop', status, latencyMs: 1.5, source: 'spiffe://cluster.local/ns/shop/sa/web', destination: 'orders.shop', traceId: 'abc' });

describe('stream server', () => {
  it('refuses a workload certificate on /v1/tap and /v1/stats with 403 before any upgrade', async () => {
    const workload = await cp.issueWorkload('shop', 'orders');
    const intruder = { ...admin, clientCertificateData: workload.certChainPem, clientKeyData: workload.keyPem };
    const tap = startTap(intruder, { service: 'orders', namespace: 'shop' });
    const error = await tap.done.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StreamApiError);
    expect((error as StreamApiError).kind).toBe('refused');
    expect((error as StreamApiError).message).toMatch(/^403 spiffe:\/\/cluster.local\/ns\/shop\/sa\/orders is not the admin identity/);
    await expect(fetchStats(intruder, server.address, { byRoute: false, window: '0s' })).rejects.toThrow(/^403 .*not the admin identity/);
    expect(server.hub.tapCount).toBe(0);
  });

  it('closes a sidecar whose hello claims another namespace than its certificate', async () => {
    const sidecar = await fakeSidecar(await cp.issueWorkload('shop', 'orders'), { nodeId: 'n1', service: 'orders', namespace: 'billing' });
    const closed = await sidecar.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain('does not match');
  });

  it('relays a filtered tap from sidecars to the admin, joins late sidecars, and tells them all to stop when the admin leaves', async () => {
    const early = await fakeSidecar(await cp.issueWorkload('shop', 'orders'), { nodeId: 'orders-1', service: 'orders', namespace: 'shop' });
    await eventually('sidecar registered', () => (server.hub.list().some((s) => s.nodeId === 'orders-1') ? true : undefined));
    const tap = startTap(admin, { service: 'orders', namespace: 'shop', path: '/orders' });
    const start = await eventually('tap-start at the sidecar', () => early.received.find((m) => m['type'] === 'tap-start'));
    expect(start['filter']).toEqual({ service: 'orders', namespace: 'shop', path: '/orders', headers: false });
    const tapId = String(start['tapId']);
    early.ws.send(JSON.stringify({ type: 'tap-started', tapId }));
    // The second event is malformed (no status): a workload's frames are checked before an operator sees them.
    early.ws.send(JSON.stringify({ type: 'tap-events', tapId, events: [event('/orders/1'), { ...event('/orders/2'), status: 'x' }], dropped: 3 }));
    const late = await fakeSidecar(await cp.issueWorkload('shop', 'web'), { nodeId: 'web-1', service: 'web', namespace: 'shop' });
    const lateStart = await eventually('tap-start at the late sidecar', () => late.received.find((m) => m['type'] === 'tap-start'));
    expect(lateStart['tapId']).toBe(tapId);
    late.ws.send(JSON.stringify({ type: 'tap-events', tapId, events: [{ ...event('/orders/3', 503), direction: 'outbound', refusal: 'MESH_ERR_NO_ENDPOINTS' }], dropped: 0 }));
    await eventually('relayed messages', () => (tap.messages.filter((m) => m.type === 'event').length === 2 ? true : undefined));
    expect(tap.messages).toContainEqual({ type: 'tapping', nodeId: 'orders-1', service: 'orders', namespace: 'shop' });
    expect(tap.messages).toContainEqual({ type: 'dropped', nodeId: 'orders-1', count: 3 });
    const events = tap.messages.flatMap((m) => (m.type === 'event' ? [m] : []));
    expect(events.map((m) => [m.nodeId, m.event.path, m.event.status, m.event.refusal])).toEqual([
      ['orders-1', '/orders/1', 200, undefined],
      ['web-1', '/orders/3', 503, 'MESH_ERR_NO_ENDPOINTS'],
    ]);
    tap.stop();
    await tap.done;
    for (const sidecar of [early, late]) {
      await eventually('tap-stop at every sidecar', () => sidecar.received.find((m) => m['type'] === 'tap-stop' && m['tapId'] === tapId));
    }
    expect(server.hub.tapCount).toBe(0);
  });

  it('bounds what a real sidecar stream sends to 100 events per second and counts the rest as dropped', async () => {
    const material = await cp.issueWorkload('shop', 'payments');
    // A clock that does not move: the bucket never refills, so exactly its burst goes through.
    const sink = new TapSink({ localService: 'payments.shop', ratePerSecond: 100, now: () => 0 });
    const stream = new ControlPlaneStream({ address: server.address, controlPlaneIdentity: cp.controlPlaneIdentity, tls: new MutableTlsMaterialSource(material), node: { nodeId: 'payments-1', service: 'payments', namespace: 'shop' }, sink, stats: () => ({ bounds: [], series: [] }), logger: testLogger });
    stream.start();
    open.push({ close: () => stream.stop() });
    const tap = startTap(admin, { service: 'payments', namespace: 'shop' });
    await eventually('the sidecar is tapping', () => (tap.messages.some((m) => m.type === 'tapping' && m.nodeId === 'payments-1') ? true : undefined));
    expect(sink.active).toBe(true);
    for (let i = 0; i < 300; i++) sink.record({ direction: 'inbound', method: 'POST', path: `/charge/${i}`, authority: 'payments.shop', status: 200, latencyMs: 1, source: 'spiffe://cluster.local/ns/shop/sa/orders', destination: 'payments.shop', traceId: '', refusal: null, headers: { authorization: 'secret' } });
    const dropped = await eventually('the dropped count', () => tap.messages.find((m) => m.type === 'dropped' && m.nodeId === 'payments-1'));
    expect(dropped).toEqual({ type: 'dropped', nodeId: 'payments-1', count: 200 });
    const events = tap.messages.flatMap((m) => (m.type === 'event' && m.nodeId === 'payments-1' ? [m.event] : []));
    expect(events).toHaveLength(100);
    expect(events[0]).not.toHaveProperty('headers');
    tap.stop();
    await eventually('the sidecar stops tapping', () => (sink.active ? undefined : true));
  });

  it('aggregates stats from every sidecar: requests, success rate, rate over the window and merged percentiles', async () => {
    const bounds = [0.01, 0.1, 1];
    const series = (count: number, fivexx: number, buckets: number[]): object => ({ direction: 'inbound', source: 'spiffe://cluster.local/ns/shop/sa/web', destination: 'cart.shop', route: '', statusClasses: { '2xx': count - fivexx, '5xx': fivexx }, buckets, count, sumSeconds: 0 });
    const a = await fakeSidecar(await cp.issueWorkload('shop', 'cart'), { nodeId: 'cart-1', service: 'cart', namespace: 'shop' });
    const b = await fakeSidecar(await cp.issueWorkload('shop', 'cart'), { nodeId: 'cart-2', service: 'cart', namespace: 'shop' });
    // Each answer counts up by 10 requests per stats request, so a window sees 20 new requests across the two.
    for (const [sidecar, failures] of [[a, 0], [b, 2]] as const) {
      let count = 10;
      sidecar.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as { type: string; requestId: string };
        if (m.type !== 'stats-request') return;
        sidecar.ws.send(JSON.stringify({ type: 'stats', requestId: m.requestId, bounds, series: [series(count, failures, [count / 2, count / 2, 0])] }));
        count += 10;
      });
    }
    const report = await fetchStats(admin, server.address, { service: 'cart', namespace: 'shop', byRoute: false, window: '500ms' });
    expect(report.rows).toHaveLength(1);
    const row = report.rows[0]!;
    expect(row.service).toBe('cart.shop');
    expect(row.requests).toBe(40);
    expect(row.successRate).toBeCloseTo(38 / 40);
    expect(row.rps).toBeCloseTo(40);
    // Half of the requests at or under 10 ms, half between 10 and 100 ms.
    expect(row.p50Ms).toBeCloseTo(10);
    expect(row.p95Ms).toBeCloseTo(91);
  });
});
