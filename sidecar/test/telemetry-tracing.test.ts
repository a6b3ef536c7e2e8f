// Tracing: OTLP export over both protocols to a real receiver, W3C/B3 context, sampling, and a dead or slow collector.
import { createServer } from 'node:net';
import type { OutgoingHttpHeaders } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type DecodedSpan, type OtlpReceiver } from '../../test-support/otlp-receiver.js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { Tracing, type OtlpProtocol, type TracingConfig } from '../src/telemetry/tracing.js';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const SPIFFE = 'spiffe://cluster.local/ns/shop/sa/orders';

let receiver: OtlpReceiver;
const opened: Tracing[] = [];

async function tracing(overrides: Partial<TracingConfig> = {}): Promise<Tracing> {
  const t = await Tracing.create({
    serviceName: 'orders',
    serviceNamespace: 'shop',
    spiffeId: SPIFFE,
    exporter: undefined,
    samplingPercent: 100,
    batch: { scheduledDelayMs: 10, exportTimeoutMs: 2000 },
    ...overrides,
  });
  opened.push(t);
  return t;
}

function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      if (condition()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(poll, 10);
    };
    poll();
  });
}

// A port that was just free: nothing listens there, so connects are refused.
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function byName(spans: DecodedSpan[], name: string): DecodedSpan {
  const found = spans.find((s) => s.name === name);
  if (!found) throw new Error(`no span named ${name} in ${spans.map((s) => s.name).join(', ')}`);
  return found;
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.shutdown()));
});

afterAll(async () => {
  await receiver.close();
});

describe.each<OtlpProtocol>(['http/protobuf', 'grpc'])('export over OTLP %s', (protocol) => {
  it('delivers server and client spans with parent links, semantic attributes, status and resource', async () => {
    const endpoint = protocol === 'grpc' ? receiver.grpcEndpoint : receiver.httpEndpoint;
    const t = await tracing({ exporter: { protocol, endpoint } });
    const name = `GET ${protocol}`;
    const server = t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` }, { 'http.request.method': 'GET', 'url.path': '/orders' }, name);
    const client = t.startClientSpan(server, { 'mesh.retry.attempt': 1 }, `attempt ${protocol}`);
    client.end({ status: 503, error: { code: 'MESH_ERR_NO_ENDPOINTS', reason: 'outbound/balancer: no endpoints' } });
    server.end({ status: 200 });
    await t.forceFlush();

    const spans = await receiver.waitForSpans((all) => all.some((s) => s.name === name) && all.some((s) => s.name === `attempt ${protocol}`));
    const s = byName(spans, name);
    const c = byName(spans, `attempt ${protocol}`);
    expect(s.via).toBe(protocol === 'grpc' ? 'grpc' : 'http');
    expect(s).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: CALLER_SPAN, kind: 'SERVER', status: { code: 0 } });
    expect(s.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/orders', 'http.response.status_code': 200 });
    expect(s.resource).toMatchObject({ 'service.name': 'orders', 'service.namespace': 'shop', 'mesh.identity': SPIFFE });
    expect(c).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: s.spanId, kind: 'CLIENT', status: { code: 2, message: 'outbound/balancer: no endpoints' } });
    expect(c.attributes).toMatchObject({ 'mesh.retry.attempt': 1, 'http.response.status_code': 503, 'mesh.refusal.code': 'MESH_ERR_NO_ENDPOINTS' });
  });
});

describe('context propagation', () => {
  it('starts a trace when the request has no context, and the next hop continues from the injected span', async () => {
    const a = await tracing();
    const b = await tracing({ serviceName: 'payments' });
    const server = a.startServerSpan({});
    expect(server.traceId).toMatch(/^[0-9a-f]{32}$/);
    const client = a.startClientSpan(server);
    const out: OutgoingHttpHeaders = {};
    a.inject(client, out);
    expect(out['traceparent']).toBe(`00-${server.traceId}-${client.spanId}-01`);

    const next = b.startServerSpan(out);
    expect(next.traceId).toBe(server.traceId);
    expect((next.span as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId).toBe(client.spanId);
  });

  it('carries tracestate through', async () => {
    const t = await tracing();
    const server = t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=abc' });
    const out: OutgoingHttpHeaders = {};
    t.inject(t.startClientSpan(server), out);
    expect(out['tracestate']).toBe('vendor=abc');
  });

  it.each([
    ['single b3 header', { b3: `${CALLER_TRACE}-${CALLER_SPAN}-1` }],
    ['multi x-b3 headers', { 'x-b3-traceid': CALLER_TRACE, 'x-b3-spanid': CALLER_SPAN, 'x-b3-sampled': '1' }],
  ])('accepts B3 on the way in (%s) and answers in W3C', async (_name, headers) => {
    const t = await tracing({ samplingPercent: 0 });
    const server = t.startServerSpan(headers);
    expect(server.traceId).toBe(CALLER_TRACE);
    // Sampled by the B3 caller: honoured even at 0%.
    expect(server.sampled).toBe(true);
    const out: OutgoingHttpHeaders = {};
    t.inject(server, out);
    expect(out['traceparent']).toBe(`00-${CALLER_TRACE}-${server.spanId}-01`);
  });

  it('prefers a valid traceparent over B3, and falls back to B3 when traceparent is malformed', async () => {
    const t = await tracing();
    const other = 'f'.repeat(32);
    expect(t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, b3: `${other}-${CALLER_SPAN}-1` }).traceId).toBe(CALLER_TRACE);
    expect(t.startServerSpan({ traceparent: 'garbage', b3: `${other}-${CALLER_SPAN}-1` }).traceId).toBe(other);
  });
});

describe('sampling', () => {
  it('at 0% leaves new traces unsampled but follows a sampled parent', async () => {
    const t = await tracing({ samplingPercent: 0 });
    const root = t.startServerSpan({});
    expect(root.sampled).toBe(false);
    const out: OutgoingHttpHeaders = {};
    t.inject(root, out);
    expect(out['traceparent']).toMatch(/-00$/);
    expect(t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` }).sampled).toBe(true);
  });

  it('at 100% samples new traces but not a parent that said no', async () => {
    const t = await tracing({ samplingPercent: 100 });
    expect(t.startServerSpan({}).sampled).toBe(true);
    expect(t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` }).sampled).toBe(false);
  });

  it('at 50% samples about half of new traces', async () => {
    const t = await tracing({ samplingPercent: 50 });
    let sampled = 0;
    for (let i = 0; i < 2000; i++) if (t.startServerSpan({}).sampled) sampled++;
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
  });

  it('decides a new trace on the trace id it then carries, as the ratio sampler would', async () => {
    const t = await tracing({ samplingPercent: 30 });
    const ratio = new TraceIdRatioBasedSampler(0.3);
    for (let i = 0; i < 500; i++) {
      const root = t.startServerSpan({});
      expect(root.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      const decision = ratio.shouldSample(ROOT_CONTEXT, root.traceId).decision;
      expect(root.sampled).toBe(decision === SamplingDecision.RECORD_AND_SAMPLED);
    }
  });

  it('continues an unsampled trace without the SDK: same trace and tracestate, a new span id, flags 00', async () => {
    const t = await tracing({ samplingPercent: 100 });
    const server = t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`, tracestate: 'vendor=abc' });
    expect(server.span).toBeUndefined();
    const client = t.startClientSpan(server);
    expect(client.sampled).toBe(false);
    expect(client.traceId).toBe(CALLER_TRACE);
    expect(client.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set([CALLER_SPAN, server.spanId, client.spanId]).size).toBe(3);
    const out: OutgoingHttpHeaders = {};
    t.inject(client, out);
    expect(out).toEqual({ traceparent: `00-${CALLER_TRACE}-${client.spanId}-00`, tracestate: 'vendor=abc' });
    // Ending or annotating it is harmless.
    client.set('http.request.method', 'GET');
    client.end({ status: 500, error: { code: 'X', reason: 'y' } });
  });

  it('rejects a percentage outside 0-100', async () => {
    await expect(tracing({ samplingPercent: 101 })).rejects.toThrow(/0-100/);
  });

  it('does not export unsampled spans', async () => {
    const t = await tracing({ samplingPercent: 0, exporter: { protocol: 'http/protobuf', endpoint: receiver.httpEndpoint } });
    t.startServerSpan({}, undefined, 'never-exported').end({ status: 200 });
    t.startServerSpan({ traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` }, undefined, 'exported-after').end({ status: 200 });
    await t.forceFlush();
    await receiver.waitForSpans((all) => all.some((s) => s.name === 'exported-after'));
    expect(receiver.spans().some((s) => s.name === 'never-exported')).toBe(false);
  });
});

describe('a collector that is down or slow', () => {
  it('dead collector: 10k span ends return without throwing, and every lost span is counted', async () => {
    const port = await deadPort();
    const t = await tracing({ exporter: { protocol: 'http/protobuf', endpoint: `http://127.0.0.1:${port}` }, batch: { scheduledDelayMs: 10, exportTimeoutMs: 1000 } });
    for (let i = 0; i < 10_000; i++) {
      const span = t.startServerSpan({});
      t.startClientSpan(span).end({ status: 200 });
      span.end({ status: 200 });
    }
    // The queue (2048) filled within the loop: the overflow is counted at once, not waited for.
    expect(t.droppedSpans).toBeGreaterThanOrEqual(20_000 - 2048);
    await waitUntil(() => t.droppedSpans === 20_000);
    expect(t.exportedSpans).toBe(0);
  });

  it.each<OtlpProtocol>(['http/protobuf', 'grpc'])('slow collector (%s): exports time out, spans are dropped and counted, export goes on', async (protocol) => {
    const slow = await startOtlpReceiver({ stall: true });
    try {
      const endpoint = protocol === 'grpc' ? slow.grpcEndpoint : slow.httpEndpoint;
      const t = await tracing({ exporter: { protocol, endpoint }, batch: { scheduledDelayMs: 10, exportTimeoutMs: 200, maxExportBatchSize: 100, maxQueueSize: 300 } });
      for (let i = 0; i < 1000; i++) t.startServerSpan({}).end({ status: 200 });
      expect(t.droppedSpans).toBe(700);
      // Each stalled export is given up on, and the next batch is tried: the queue drains into the dropped count.
      await waitUntil(() => t.droppedSpans === 1000);
      expect(slow.requests.http + slow.requests.grpc).toBeGreaterThanOrEqual(2);
    } finally {
      await slow.close();
    }
  });

  it('ending a span twice is harmless', async () => {
    const t = await tracing();
    const span = t.startServerSpan({});
    span.end({ status: 200 });
    expect(() => span.end({ status: 500 })).not.toThrow();
  });
});
