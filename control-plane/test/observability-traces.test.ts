// The embedded trace store: a real OTLP/HTTP export into the control plane, the waterfall text and page, meshctl traces, and the store's bounds.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { API_VERSION } from '@tsmesh/proto';
import { initCertificateAuthority, startControlPlaneServer } from '@tsmesh/control-plane';
import { startTestControlPlane, tempDir, testLogger, TRUST_DOMAIN, type TestControlPlane } from '../../test-support/control-plane.js';
import { startOtlpReceiver } from '../../test-support/otlp-receiver.js';
import { TraceStore, type TraceJson, type TraceSpan, type TraceSummary } from '../src/observability/trace-store.js';
import { renderTextWaterfall } from '../src/observability/waterfall.js';
import { tracesCommand } from '../src/cli/commands-traces.js';

let cp: TestControlPlane;

beforeAll(async () => {
  cp = await startTestControlPlane();
});

afterAll(async () => {
  await cp?.cleanup();
});

// A shop -> orders -> payments trace made by the real SDK and sent with the real OTLP/HTTP protobuf exporter.
async function exportThreeSpanTrace(): Promise<{ traceId: string; ids: Record<'shop' | 'orders' | 'payments', string> }> {
  const providers = ['shop', 'orders', 'payments'].map(
    (service) =>
      new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        sampler: new AlwaysOnSampler(),
        spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: cp.running.otlpEndpoint }) })],
      }),
  );
  const [shop, orders, payments] = providers.map((p) => p.getTracer('test'));
  const root = shop!.startSpan('GET /buy', {}, ROOT_CONTEXT);
  // The link is only there to prove OTLP links decode (span field 13).
  const middle = orders!.startSpan('POST /orders', { links: [{ context: root.spanContext() }] }, trace.setSpan(ROOT_CONTEXT, root));
  const leaf = payments!.startSpan('POST /charge', { attributes: { 'http.response.status_code': 502 } }, trace.setSpan(ROOT_CONTEXT, middle));
  await new Promise((resolve) => setTimeout(resolve, 15));
  leaf.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  leaf.end();
  middle.end();
  root.end();
  await Promise.all(providers.map((p) => p.forceFlush()));
  await Promise.all(providers.map((p) => p.shutdown()));
  return { traceId: root.spanContext().traceId, ids: { shop: root.spanContext().spanId, orders: middle.spanContext().spanId, payments: leaf.spanContext().spanId } };
}

describe('embedded traces over OTLP/HTTP', () => {
  let exported: Awaited<ReturnType<typeof exportThreeSpanTrace>>;

  beforeAll(async () => {
    exported = await exportThreeSpanTrace();
  });

  it('stores a real OTLP/HTTP protobuf export and serves it at /api/traces', async () => {
    const list = (await (await fetch(`http://${cp.running.httpAddress}/api/traces`)).json()) as { traces: TraceSummary[] };
    const summary = list.traces.find((t) => t.traceId === exported.traceId);
    expect(summary).toMatchObject({ rootName: 'GET /buy', rootService: 'shop', services: ['orders', 'payments', 'shop'], spanCount: 3, error: true });
    expect(summary!.durationMs).toBeGreaterThanOrEqual(10);
    const one = (await (await fetch(`http://${cp.running.httpAddress}/api/traces/${exported.traceId}`)).json()) as TraceJson;
    const byService = Object.fromEntries(one.spans.map((s) => [s.service, s]));
    expect(byService['shop']).toMatchObject({ spanId: exported.ids.shop, parentSpanId: '', startOffsetMs: 0 });
    expect(byService['orders']).toMatchObject({ spanId: exported.ids.orders, parentSpanId: exported.ids.shop, links: [{ traceId: exported.traceId, spanId: exported.ids.shop }] });
    expect(byService['payments']).toMatchObject({ parentSpanId: exported.ids.orders, status: { code: 2, message: 'card declined' }, attributes: { 'http.response.status_code': 502 } });
  });

  it('prints the 3-span trace as a waterfall nested by parent and child', async () => {
    const out: string[] = [];
    const code = await tracesCommand({ out: (t) => out.push(t), err: (t) => out.push(t) }, { httpServer: cp.running.httpAddress }, exported.traceId);
    expect(code).toBe(0);
    const lines = out.join('').trimEnd().split('\n');
    expect(lines[0]).toContain(`trace ${exported.traceId}`);
    expect(lines.slice(1).map((l) => /^( *)(\S+ \S+ \S+)/.exec(l)?.slice(1, 3))).toEqual([
      ['', 'shop GET /buy'],
      ['  ', 'orders POST /orders'],
      ['    ', 'payments POST /charge'],
    ]);
    expect(lines[3]).toContain('ERROR: card declined');
    // The root's bar spans the scale (a child may end a moment after it on a loaded machine); a child's bar lies within its parent's.
    const bar = (line: string): [number, number] => {
      const inner = /\|([ █]+)\|/.exec(line)![1]!;
      return [inner.indexOf('█'), inner.lastIndexOf('█')];
    };
    expect(bar(lines[1]!)[0]).toBe(0);
    expect(bar(lines[1]!)[1]).toBeGreaterThanOrEqual(37);
    expect(bar(lines[3]!)[0]).toBeGreaterThanOrEqual(bar(lines[2]!)[0]);
    expect(bar(lines[3]!)[1]).toBeLessThanOrEqual(bar(lines[2]!)[1]);
  });

  it('lists recent traces with meshctl traces, the real binary', async () => {
    const bin = fileURLToPath(new URL('../bin/meshctl.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'traces', '--http-server', cp.running.httpAddress, '--limit', '50'], { env: { ...process.env, MESHCTL_CONFIG: '/nonexistent' } });
    const header = stdout.split('\n')[0];
    expect(header).toMatch(/^TRACE ID\s+ROOT\s+SERVICES\s+DURATION\s+SPANS\s+ERROR\s+AGE$/);
    const row = stdout.split('\n').find((l) => l.startsWith(exported.traceId));
    expect(row).toMatch(/shop: GET \/buy\s+orders,payments,shop\s+\S+\s+3\s+error/);
  });

  it('serves the trace list and a waterfall page as self-contained HTML', async () => {
    const list = await (await fetch(`http://${cp.running.httpAddress}/traces`)).text();
    expect(list).toContain(`href="/traces/${exported.traceId}"`);
    const page = await fetch(`http://${cp.running.httpAddress}/traces/${exported.traceId}`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html.indexOf('GET /buy')).toBeLessThan(html.indexOf('POST /orders'));
    expect(html).toContain('card declined');
  });

  it('refuses what is not an OTLP protobuf export, and an unknown trace is a 404', async () => {
    const json = await fetch(`http://${cp.running.httpAddress}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    const garbage = await fetch(`http://${cp.running.httpAddress}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0x0a, 0xff]) });
    expect(garbage.status).toBe(400);
    const missing = await fetch(`http://${cp.running.httpAddress}/api/traces/${'ab'.repeat(16)}`);
    expect(missing.status).toBe(404);
    const out: string[] = [];
    expect(await tracesCommand({ out: (t) => out.push(t), err: (t) => out.push(t) }, { httpServer: cp.running.httpAddress }, 'ab'.repeat(16))).toBe(1);
    expect(out.join('')).toContain('not in the store');
  });

  it('tells an unreachable HTTP port apart (exit 3)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const out: string[] = [];
    expect(await tracesCommand({ out: (t) => out.push(t), err: (t) => out.push(t) }, { httpServer: address })).toBe(3);
    expect(out.join('')).toContain(`cannot reach the control plane's HTTP port at ${address}: ECONNREFUSED`);
  });
});

describe('the control plane exporting its own spans', () => {
  it('sends them to --otlp-endpoint as well as to its own store, flushed on stop', async () => {
    const receiver = await startOtlpReceiver();
    const dataDir = tempDir('cp-otlp');
    try {
      await initCertificateAuthority(dataDir, { trustDomain: TRUST_DOMAIN });
      const running = await startControlPlaneServer({ dataDir, listen: '127.0.0.1:0', httpListen: '127.0.0.1:0', otlpEndpoint: receiver.httpEndpoint, logger: testLogger });
      const resource = { apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'shop' }, spec: { service: 'orders', rules: [{ backends: [{ service: 'orders' }] }] } };
      const committed = await running.store.commit([{ op: 'put', resource }], { actor: 'test', message: 'otlp export' });
      expect(committed.ok).toBe(true);
      expect(running.traces.list(10).map((t) => t.rootName)).toContain('admin.apply');
      await running.stop();
      const [apply] = (await receiver.waitForSpans((spans) => spans.some((s) => s.name === 'admin.apply'))).filter((s) => s.name === 'admin.apply');
      expect(apply).toMatchObject({ resource: { 'service.name': 'mesh-control-plane' }, attributes: { 'mesh.change.actor': 'test', 'mesh.change.message': 'otlp export', 'mesh.store.revision': 1 } });
    } finally {
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('trace store bounds', () => {
  const span = (trace: number, id: number, parent = 0, startMs = trace * 10): TraceSpan => ({
    traceId: trace.toString(16).padStart(32, '0'),
    spanId: id.toString(16).padStart(16, '0'),
    parentSpanId: parent ? parent.toString(16).padStart(16, '0') : '',
    name: `span-${id}`,
    kind: 'SERVER',
    service: 'svc',
    startTimeUnixNano: BigInt(startMs) * 1_000_000n,
    endTimeUnixNano: BigInt(startMs + 5) * 1_000_000n,
    attributes: {},
    status: { code: 0, message: '' },
    links: [],
  });
  const ids = (store: TraceStore): number[] => store.list(1000).map((t) => parseInt(t.traceId, 16)).sort((a, b) => a - b);

  it('evicts the oldest traces past the trace limit', () => {
    const store = new TraceStore({ maxTraces: 3, maxSpans: 100 });
    for (let t = 1; t <= 5; t++) store.add([span(t, t * 100)]);
    expect(ids(store)).toEqual([3, 4, 5]);
    expect(store.stats).toMatchObject({ traces: 3, spans: 3, evictedTraces: 2 });
  });

  it('evicts the oldest traces past the span limit, never the trace being written', () => {
    const store = new TraceStore({ maxTraces: 100, maxSpans: 6, maxSpansPerTrace: 4 });
    store.add([span(1, 1), span(1, 2, 1), span(2, 3), span(2, 4, 3), span(3, 5)]);
    expect(store.stats.spans).toBe(5);
    // Trace 1 is the oldest; three more spans for trace 1 push past 6 and evict trace 2, not 1.
    store.add([span(1, 6, 1), span(1, 7, 1)]);
    expect(ids(store)).toEqual([1, 3]);
    // A trace at its own limit drops further spans instead of growing.
    store.add([span(1, 8, 1)]);
    expect(store.stats).toMatchObject({ spans: 5, dropped: 1 });
    expect(store.get(span(1, 1).traceId)?.spanCount).toBe(4);
  });

  it('keeps one copy of a span an exporter sent twice, and lists newest first', () => {
    const store = new TraceStore();
    store.add([span(1, 1), span(1, 1), span(2, 2)]);
    expect(store.stats.spans).toBe(2);
    expect(store.list().map((t) => parseInt(t.traceId, 16))).toEqual([2, 1]);
  });

  it('shows a span whose parent never arrived as a root rather than hiding it', () => {
    const store = new TraceStore();
    store.add([span(1, 1, 0, 0), span(1, 2, 99, 1), span(1, 3, 2, 2)]);
    const text = renderTextWaterfall(store.get(span(1, 1).traceId)!);
    expect(text.split('\n').slice(1, 4).map((l) => l.split('|')[0]!.trimEnd())).toEqual(['svc span-1', 'svc span-2', '  svc span-3']);
  });
});
