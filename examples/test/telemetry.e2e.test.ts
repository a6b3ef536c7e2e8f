// Telemetry end to end: one trace across four sidecars into a real OTLP decoder, metrics that match the traffic.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, startExampleService, startSidecarProcess, type ControlPlaneHandle, type MeshedService } from '../src/launcher.js';
import { freePort, type ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { tempDir } from '../../test-support/control-plane.js';
import { startOtlpReceiver, type DecodedSpan, type OtlpReceiver } from '../../test-support/otlp-receiver.js';

let dataDir: string;
let cp: ControlPlaneHandle;
let receiver: OtlpReceiver;
const services: MeshedService[] = [];
let loadgen: { process: ManagedProcess; outboundPort: number; adminPort: number };
let blind: { process: ManagedProcess; outboundPort: number; adminPort: number };

beforeAll(async () => {
  dataDir = tempDir('telemetry');
  receiver = await startOtlpReceiver();
  cp = await startControlPlane(dataDir, { logDir: join(dataDir, 'logs') });
  const tracing = ['--otlp-endpoint', receiver.httpEndpoint, '--trace-sampling', '100'];
  for (const name of ['payments', 'inventory', 'orders', 'shop'] as const) services.push(await startExampleService(name, cp, dataDir, join(dataDir, 'logs'), tracing));
  loadgen = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'loadgen', logDir: join(dataDir, 'logs'), extraArgs: ['--otlp-endpoint', `${receiver.grpcEndpoint}`, '--otlp-protocol', 'grpc', '--trace-sampling', '100'] });
  // A collector that is not there at all.
  blind = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'blind', logDir: join(dataDir, 'logs'), extraArgs: ['--otlp-endpoint', `http://127.0.0.1:${await freePort()}`, '--trace-sampling', '100'] });
}, 90_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await loadgen?.process.stop();
  await blind?.process.stop();
  await cp?.stop();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe('tracing and metrics across real sidecars', () => {
  it('yields one trace through loadgen -> shop -> orders -> payments + inventory, continuing the caller traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const res = await callThroughProxy(`http://127.0.0.1:${loadgen.outboundPort}`, 'http://shop.demo/buy?item=lamp', { headers: { traceparent: `00-${traceId}-${parent}-01` } });
    expect(res.status).toBe(200);
    const inTrace = (spans: DecodedSpan[]): DecodedSpan[] => spans.filter((s) => s.traceId === traceId);
    // Sidecars export in batches, each on its own schedule: wait until every server span's parent is in.
    const complete = (all: DecodedSpan[]): boolean => {
      const mine = inTrace(all);
      const ids = new Set(mine.map((s) => s.spanId));
      const servers = mine.filter((s) => s.kind === 'SERVER');
      return servers.length >= 4 && servers.every((s) => ids.has(s.parentSpanId)) && mine.some((s) => s.parentSpanId === parent);
    };
    const spans = inTrace(await receiver.waitForSpans(complete, 15_000));
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const servers = spans.filter((s) => s.kind === 'SERVER');
    expect(servers.map((s) => s.resource['service.name']).sort()).toEqual(['inventory', 'orders', 'payments', 'shop']);
    // Every server span's parent is a client span (one try) of the caller's sidecar, in the same trace.
    for (const server of servers) {
      const client = byId.get(server.parentSpanId);
      expect(client?.kind, `parent of ${String(server.resource['service.name'])}`).toBe('CLIENT');
    }
    const shopServer = servers.find((s) => s.resource['service.name'] === 'shop')!;
    expect(byId.get(shopServer.parentSpanId)?.resource['service.name']).toBe('loadgen');
    expect(shopServer.attributes['mesh.peer.identity']).toBe('spiffe://cluster.local/ns/demo/sa/loadgen');
    // The app's own context is continued: loadgen's outbound span hangs under the caller's span.
    const root = spans.find((s) => s.resource['service.name'] === 'loadgen' && s.parentSpanId === parent);
    expect(root).toBeDefined();
    expect(spans.some((s) => s.via === 'grpc') && spans.some((s) => s.via === 'http')).toBe(true);
  }, 30_000);

  it('counts requests in Prometheus metrics that agree with the traffic sent', async () => {
    const orders = services.find((s) => s.name === 'orders')!;
    const read = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${orders.adminPort}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('mesh_requests_total{') && l.includes('direction="inbound"') && l.includes('status_class="2xx"'))
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const before = await read();
    for (let i = 0; i < 10; i++) expect((await callThroughProxy(`http://127.0.0.1:${loadgen.outboundPort}`, 'http://orders.demo/orders', { body: { item: 'x' } })).status).toBe(201);
    expect((await read()) - before).toBe(10);
    const text = await (await fetch(`http://127.0.0.1:${orders.adminPort}/metrics`)).text();
    expect(text).toMatch(/# TYPE mesh_request_duration_seconds histogram/);
    expect(text).toMatch(/mesh_tls_handshakes_total\{direction="inbound",result="success"\} [1-9]/);
  }, 20_000);

  it('serves every request normally when the collector is unreachable', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await callThroughProxy(`http://127.0.0.1:${blind.outboundPort}`, 'http://payments.demo/charge', { body: { amount: 1 } });
      expect(res.status).toBe(200);
    }
  }, 20_000);
});
