// Telemetry layers: spans, metrics and access log per request and per attempt, and telemetry that fails without failing the request.
import { PassThrough, Readable, Writable } from 'node:stream';
import type { ClientHttp2Stream } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../test-support/otlp-receiver.js';
import { ForbiddenError, UpstreamResetError } from '../src/errors.js';
import type { AppResponse, InboundRequest } from '../src/inbound/http/types.js';
import { createOutboundRequest, streamBody, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from '../src/outbound/http/types.js';
import { compose, type Handler } from '../src/pipeline/layer.js';
import { attemptTelemetryLayer, inboundTelemetryLayer, outboundTelemetryLayer } from '../src/telemetry/layers.js';
import { createTelemetry, type Telemetry, type TelemetryConfig } from '../src/telemetry/telemetry.js';

const APP_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const APP_SPAN = '00f067aa0ba902b7';
const ME = 'spiffe://cluster.local/ns/shop/sa/web';
const PEER = 'spiffe://cluster.local/ns/shop/sa/orders';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

function telemetry(overrides: Partial<TelemetryConfig> = {}): Promise<Telemetry> {
  return createTelemetry({
    service: { name: 'web', namespace: 'shop' },
    spiffeId: ME,
    tracing: { exporter: { protocol: 'http/protobuf', endpoint: receiver.httpEndpoint }, samplingPercent: 100, batch: { scheduledDelayMs: 10 } },
    ...overrides,
  });
}

function inboundRequest(headers: Record<string, string>): InboundRequest {
  return {
    method: 'GET',
    path: '/orders/7',
    authority: 'orders.shop',
    headers: { ':method': 'GET', ':path': '/orders/7', ...headers },
    body: null,
    upgrade: null,
    appPort: null,
    appProtocol: 'http1',
    peer: { ok: true, id: PEER },
    plaintext: false,
    peerId: PEER,
    signal: new AbortController().signal,
  };
}

function metric(t: Telemetry, pattern: RegExp): number {
  const line = t.metrics.render().split('\n').find((l) => pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

// An upstream answer whose body finishes when the test says so.
function upstream(status: number): UpstreamResponse {
  return { status, headers: { ':status': String(status) }, body: new PassThrough() as unknown as ClientHttp2Stream };
}

describe('inboundTelemetryLayer', () => {
  it('continues the caller trace, hands the app its own parent, and records on body end', async () => {
    const t = await telemetry();
    const seenByApp: Array<string | string[] | undefined> = [];
    const body = new PassThrough();
    const handler = compose(inboundTelemetryLayer(t))(async (req: InboundRequest): Promise<AppResponse> => {
      seenByApp.push(req.headers['traceparent']);
      return { headers: { ':status': 201 }, body, tunnel: null, head: null };
    });
    const res = await handler(inboundRequest({ traceparent: `00-${APP_TRACE}-${APP_SPAN}-01` }));
    // Not counted until the response body is done.
    expect(metric(t, /^mesh_requests_total\{direction="inbound"/)).toBe(0);
    expect(res.body).toBe(body);
    body.resume();
    body.end('ok');
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.traceId === APP_TRACE && s.kind === 'SERVER'));
    const server = spans.find((s) => s.traceId === APP_TRACE && s.kind === 'SERVER')!;
    expect(server).toMatchObject({ parentSpanId: APP_SPAN, name: 'GET' });
    expect(server.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/orders/7', 'server.address': 'orders.shop', 'http.response.status_code': 201, 'mesh.peer.identity': PEER });
    expect(seenByApp).toEqual([`00-${APP_TRACE}-${server.spanId}-01`]);
    expect(metric(t, new RegExp(`^mesh_requests_total\\{direction="inbound",source="${PEER}",destination="web.shop",route="",status_class="2xx"\\}`))).toBe(1);
    await t.close();
  });

  it('records a refusal from the MeshError and rethrows it unchanged', async () => {
    const t = await telemetry();
    const refusal = new ForbiddenError('inbound/authz: orders-policy denies spiffe://x');
    const handler = compose(inboundTelemetryLayer(t))(() => Promise.reject(refusal));
    const req = inboundRequest({ traceparent: `00-${APP_TRACE}-${'1'.repeat(16)}-01` });
    await expect(handler(req)).rejects.toBe(refusal);
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.parentSpanId === '1'.repeat(16)));
    const server = spans.find((s) => s.parentSpanId === '1'.repeat(16))!;
    expect(server.status).toEqual({ code: 2, message: refusal.message });
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 403, 'mesh.refusal.code': 'MESH_ERR_FORBIDDEN', 'mesh.refusal.reason': refusal.message });
    expect(metric(t, /^mesh_requests_total\{direction="inbound".*status_class="4xx"/)).toBe(1);
    await t.close();
  });
});

describe('outbound and attempt layers', () => {
  it('one INTERNAL span continuing the app trace, one CLIENT span per try, each try injecting its own traceparent', async () => {
    const t = await telemetry();
    const sent: string[] = [];
    let final: UpstreamResponse | undefined;
    // Stand-in for the retry layer: a second try after a reset, each try a shallow copy of the request as the real one sends.
    const retryTwice: OutboundLayer = (next) => async (req) => {
      try {
        return await next({ ...req, attempt: 1 });
      } catch {
        return next({ ...req, attempt: 2 });
      }
    };
    const terminal: Handler<OutboundRequest, UpstreamResponse> = async (req) => {
      req.endpoint = { address: '127.0.0.1:15006', identity: PEER, nodeId: 'orders-1' };
      sent.push(String(req.headers['traceparent']));
      if (sent.length === 1) throw new UpstreamResetError('outbound/h2: 127.0.0.1:15006 reset the stream');
      return (final = upstream(200));
    };
    // Stand-in for the target layer, which sits above retry and sets the service on the app's request itself.
    const target: OutboundLayer = (next) => (req) => {
      req.service = { name: 'orders', namespace: 'shop' };
      return next(req);
    };
    const handler = compose(outboundTelemetryLayer(t), target, retryTwice, attemptTelemetryLayer(t))(terminal);
    const req = createOutboundRequest({ method: 'POST', authority: 'orders.shop', path: '/orders', headers: { traceparent: `00-${APP_TRACE}-${'2'.repeat(16)}-01` }, body: null, upgrade: null });
    const res = await handler(req);
    streamBody(res.body).resume();
    (final!.body as unknown as PassThrough).end();

    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.traceId === APP_TRACE && s.kind === 'CLIENT').length === 2 && all.some((s) => s.parentSpanId === '2'.repeat(16)));
    const outbound = spans.find((s) => s.parentSpanId === '2'.repeat(16))!;
    expect(outbound).toMatchObject({ kind: 'INTERNAL', name: 'POST' });
    expect(outbound.attributes).toMatchObject({ 'http.response.status_code': 200, 'mesh.destination.service': 'orders.shop' });
    const attempts = spans.filter((s) => s.traceId === APP_TRACE && s.kind === 'CLIENT').sort((a, b) => Number(a.attributes['mesh.retry.attempt']) - Number(b.attributes['mesh.retry.attempt']));
    expect(attempts.map((a) => a.parentSpanId)).toEqual([outbound.spanId, outbound.spanId]);
    expect(attempts.map((a) => a.attributes['mesh.retry.attempt'])).toEqual([1, 2]);
    expect(attempts[0]!.attributes).toMatchObject({ 'mesh.refusal.code': 'MESH_ERR_UPSTREAM_RESET', 'server.address': '127.0.0.1', 'server.port': 15006, 'mesh.peer.identity': PEER });
    expect(attempts[0]!.status.code).toBe(2);
    expect(attempts[1]!.attributes).toMatchObject({ 'http.response.status_code': 200 });
    expect(sent).toEqual(attempts.map((a) => `00-${APP_TRACE}-${a.spanId}-01`));
    expect(metric(t, new RegExp(`^mesh_requests_total\\{direction="outbound",source="${ME}",destination="orders.shop",route="",status_class="2xx"\\}`))).toBe(1);
    await t.close();
  });

  it('counts a gRPC call by the grpc-status of its trailers, and a trailers-only answer by its headers', async () => {
    const t = await telemetry();
    const bodies: PassThrough[] = [];
    const answers: UpstreamResponse[] = [
      { status: 200, headers: { ':status': '200', 'content-type': 'application/grpc' }, body: (bodies[0] = new PassThrough()) as unknown as ClientHttp2Stream },
      { status: 200, headers: { ':status': '200', 'content-type': 'application/grpc+proto', 'grpc-status': '7' }, body: (bodies[1] = new PassThrough()) as unknown as ClientHttp2Stream, headersOnly: true },
    ];
    const target: OutboundLayer = (next) => (req) => {
      req.service = { name: 'orders', namespace: 'shop' };
      return next(req);
    };
    let call = 0;
    const handler = compose(outboundTelemetryLayer(t), target)(() => Promise.resolve(answers[call++]!));
    for (const body of bodies) {
      const res = await handler(createOutboundRequest({ method: 'POST', authority: 'orders.shop', path: '/shop.Orders/Get', headers: { 'content-type': 'application/grpc' }, body: null, upgrade: null }));
      streamBody(res.body).resume();
      if (body === bodies[0]) body.emit('trailers', { 'grpc-status': '5', 'grpc-message': 'not found' });
      body.end();
      await new Promise((resolve) => body.once('close', resolve));
    }
    expect(metric(t, /^mesh_grpc_responses_total\{direction="outbound",destination="orders.shop",grpc_status="5"\}/)).toBe(1);
    expect(metric(t, /^mesh_grpc_responses_total\{direction="outbound",destination="orders.shop",grpc_status="7"\}/)).toBe(1);
    await t.close();
  });

  it('an outbound refusal before any try is counted with its status', async () => {
    const t = await telemetry();
    const handler = compose(outboundTelemetryLayer(t))(() => Promise.reject(new UpstreamResetError('outbound/h2: reset')));
    const req = createOutboundRequest({ method: 'GET', authority: 'orders.shop', path: '/', headers: {}, body: null, upgrade: null });
    await expect(handler(req)).rejects.toBeInstanceOf(UpstreamResetError);
    expect(metric(t, /^mesh_requests_total\{direction="outbound",.*destination="unknown".*status_class="5xx"/)).toBe(1);
    await t.close();
  });
});

describe('telemetry never fails a request', () => {
  it('an exception inside a hook is counted and swallowed', async () => {
    const t = await telemetry();
    t.metrics.requestCompleted = () => {
      throw new Error('broken metrics');
    };
    t.tracing.startServerSpan = () => {
      throw new Error('broken tracer');
    };
    const body = Readable.from([]);
    const handler = compose(inboundTelemetryLayer(t))(async (): Promise<AppResponse> => ({ headers: { ':status': 200 }, body, tunnel: null, head: null }));
    const res = await handler(inboundRequest({}));
    await new Promise<void>((resolve) => body.on('close', resolve).resume());
    expect(res.headers[':status']).toBe(200);
    expect(metric(t, /^mesh_telemetry_errors_total /)).toBe(2);
    await t.close();
  });
});

describe('access log', () => {
  it('writes one JSON line per request with the trace id, off the request path', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        callback();
      },
    });
    const t = await telemetry({ accessLog: { destination: { stream: sink }, flushIntervalMs: 5 } });
    const handler = compose(inboundTelemetryLayer(t))(() => Promise.reject(new ForbiddenError('inbound/authz: denied')));
    await expect(handler(inboundRequest({ traceparent: `00-${APP_TRACE}-${'3'.repeat(16)}-01` }))).rejects.toBeInstanceOf(ForbiddenError);
    // Buffered: nothing written synchronously.
    expect(lines).toEqual([]);
    await t.close();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ direction: 'inbound', traceId: APP_TRACE, method: 'GET', path: '/orders/7', status: 403, source: PEER, destination: 'web.shop', refusal: 'MESH_ERR_FORBIDDEN' });
  });

  it('drops and counts lines past its buffer instead of growing', async () => {
    const stuck = new Writable({ highWaterMark: 1, write: () => {} });
    const t = await telemetry({ accessLog: { destination: { stream: stuck }, maxBufferedBytes: 2000, flushIntervalMs: 1 } });
    const handler = compose(inboundTelemetryLayer(t))(() => Promise.reject(new ForbiddenError('denied')));
    for (let i = 0; i < 100; i++) await handler(inboundRequest({})).catch(() => undefined);
    expect(t.accessLog!.dropped).toBeGreaterThan(50);
    expect(metric(t, /^mesh_access_log_dropped_total /)).toBe(t.accessLog!.dropped);
    await t.close();
  });
});
