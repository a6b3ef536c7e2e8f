// The layers that trace, count and log requests; every hook is guarded, so telemetry never fails or changes a request.
import { isMeshError } from '../errors.js';
import type { AppResponse, InboundLayer, InboundRequest } from '../inbound/http/types.js';
import type { OutboundLayer, OutboundRequest, UpstreamResponse } from '../outbound/http/types.js';
import type { Telemetry } from './telemetry.js';
import type { TapSink } from '../tap/sink.js';
import type { SpanEnd, SpanHandle } from './tracing.js';
import { extractParent } from './trace-context.js';
import { whenClosed, type Closable } from '../pipeline/when-closed.js';

interface Refusal {
  status: number;
  error: { code: string; reason: string };
}

function refusalOf(error: unknown): Refusal {
  if (isMeshError(error)) return { status: error.status, error: { code: error.code, reason: error.message } };
  return { status: 500, error: { code: 'MESH_ERR_INTERNAL', reason: error instanceof Error ? error.message : String(error) } };
}

function peerSource(req: InboundRequest): string {
  return req.peerId ?? (req.plaintext ? 'plaintext' : 'unauthenticated');
}

interface RequestLine {
  method: string;
  path: string;
  authority: string;
  headers: Readonly<Record<string, string | string[] | number | undefined>>;
}

// One finished request, either direction: metrics, the access log (when on) and tap (when on).
function reportCompleted(t: Telemetry, tap: TapSink | undefined, direction: 'inbound' | 'outbound', req: RequestLine, source: string, destination: string, route: string, span: SpanHandle | undefined, end: SpanEnd, durationMs: number): void {
  t.metrics.requestCompleted(direction, source, destination, route, end.status, durationMs);
  if (end.grpcStatus !== undefined) t.metrics.grpcCompleted(direction, destination, end.grpcStatus);
  const traceId = span?.traceId ?? '';
  const refusal = end.error?.code ?? null;
  t.accessLog?.write({ direction, traceId, method: req.method, path: req.path, authority: req.authority, status: end.status, durationMs, source, destination, route, refusal });
  if (tap?.active === true) {
    tap.record({ direction, method: req.method, path: req.path, authority: req.authority, status: end.status, latencyMs: durationMs, source, destination, traceId, refusal, headers: req.headers });
  }
}

// A request is done when its answer is: an accepted upgrade at the tunnel's opening (the tunnel's lifetime is
// not a latency), else once the body has closed (a body read whole with its head: at once).
function whenAnswered(body: Closable | Buffer, tunnel: boolean, done: () => void): void {
  if (tunnel || Buffer.isBuffer(body)) done();
  else whenClosed(body, done);
}

// gRPC's result is grpc-status: in the response headers of a trailers-only answer, else in the trailers.
function watchGrpcStatus(headers: Readonly<Record<string, unknown>>, body: NodeJS.EventEmitter | Buffer, end: SpanEnd): void {
  const contentType = headers['content-type'];
  if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) return;
  const inHeaders = headers['grpc-status'];
  if (typeof inHeaders === 'string') end.grpcStatus = inHeaders;
  else if (!Buffer.isBuffer(body)) body.once('trailers', (trailers: Record<string, unknown>) => {
    const status = trailers['grpc-status'];
    if (typeof status === 'string') end.grpcStatus = status;
  });
}

// tap: where `meshctl tap` sees requests; while no tap is on, it costs one boolean check per request.
export function inboundTelemetryLayer(t: Telemetry, tap?: TapSink): InboundLayer {
  const finish = (req: InboundRequest, span: SpanHandle | undefined, started: number, end: SpanEnd): void => {
    try {
      const durationMs = performance.now() - started;
      const source = peerSource(req);
      if (span !== undefined) {
        if (span.sampled) {
          span.set('mesh.peer.identity', req.peerId);
          span.set('network.transport.secure', !req.plaintext);
        }
        span.end(end);
      }
      reportCompleted(t, tap, 'inbound', req, source, t.localService, '', span, end, durationMs);
    } catch {
      t.metrics.telemetryError();
    }
  };
  return (next) => (req) => {
    const started = performance.now();
    let span: SpanHandle | undefined;
    try {
      span = t.tracing.startServerSpan(req.headers, undefined, req.method);
      if (span.sampled) {
        span.set('http.request.method', req.method);
        span.set('url.path', req.path);
        span.set('server.address', req.authority);
      }
      // The app sees this span as its parent, so its own spans and calls continue the trace.
      t.tracing.inject(span, req.headers);
    } catch {
      t.metrics.telemetryError();
    }
    return next(req).then(
      (res: AppResponse) => {
        try {
          const end: SpanEnd = { status: Number(res.headers[':status']) || 0 };
          watchGrpcStatus(res.headers, res.body, end);
          whenAnswered(res.body, res.tunnel !== null, () => finish(req, span, started, end));
        } catch {
          t.metrics.telemetryError();
        }
        return res;
      },
      (error: unknown) => {
        finish(req, span, started, refusalOf(error));
        throw error;
      },
    );
  };
}

export function outboundTelemetryLayer(t: Telemetry, tap?: TapSink): OutboundLayer {
  const destinationOf = (req: OutboundRequest): string => {
    const service = req.backend ?? req.service;
    return service ? t.serviceKey(service.name, service.namespace) : 'unknown';
  };
  const finish = (req: OutboundRequest, span: SpanHandle | undefined, started: number, end: SpanEnd): void => {
    try {
      const durationMs = performance.now() - started;
      const destination = destinationOf(req);
      const route = req.route?.name ?? '';
      if (span !== undefined) {
        if (span.sampled) {
          span.set('mesh.destination.service', destination);
          if (route !== '') {
            span.set('http.route', route);
            span.updateName(`${req.method} ${route}`);
          }
        }
        span.end(end);
      }
      reportCompleted(t, tap, 'outbound', req, t.spiffeId, destination, route, span, end, durationMs);
    } catch {
      t.metrics.telemetryError();
    }
  };
  return (next) => (req) => {
    const started = performance.now();
    let span: SpanHandle | undefined;
    try {
      // Continues the app's own traceparent when it sent one.
      span = t.tracing.startOutboundSpan(req.headers, undefined, req.method);
      if (span.sampled) {
        span.set('http.request.method', req.method);
        span.set('url.path', req.path);
        span.set('server.address', req.authority);
      }
      req.span = span;
    } catch {
      t.metrics.telemetryError();
    }
    return next(req).then(
      (res: UpstreamResponse) => {
        try {
          const end: SpanEnd = { status: res.status };
          watchGrpcStatus(res.headers, res.body, end);
          whenAnswered(res.body, req.upgrade !== null, () => finish(req, span, started, end));
        } catch {
          t.metrics.telemetryError();
        }
        return res;
      },
      (error: unknown) => {
        finish(req, span, started, refusalOf(error));
        throw error;
      },
    );
  };
}

// "host:port" (or "[v6]:port") of the endpoint's inbound listener, as semconv server.address and server.port.
function setEndpoint(span: SpanHandle, address: string): void {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return span.set('server.address', address);
  span.set('server.address', address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'));
  const port = Number(address.slice(colon + 1));
  if (Number.isInteger(port)) span.set('server.port', port);
}

// One CLIENT span per try, so a retried request shows each attempt; it sits right under the retry layer.
export function attemptTelemetryLayer(t: Telemetry): OutboundLayer {
  const finish = (req: OutboundRequest, span: SpanHandle, end: SpanEnd): void => {
    try {
      if (span.sampled && req.endpoint !== null) {
        setEndpoint(span, req.endpoint.address);
        span.set('mesh.peer.identity', req.endpoint.identity);
      }
      span.end(end);
    } catch {
      t.metrics.telemetryError();
    }
  };
  return (next) => (req) => {
    let span: SpanHandle | undefined;
    try {
      span = t.tracing.startClientSpan(req.span ?? extractParent(req.headers), undefined, req.method);
      if (span.sampled) {
        span.set('http.request.method', req.method);
        span.set('url.path', req.path);
        span.set('mesh.retry.attempt', req.attempt);
      }
      // The next sidecar's server span is a child of this try.
      t.tracing.inject(span, req.headers);
    } catch {
      t.metrics.telemetryError();
    }
    // An unsampled try has nothing to record when it ends: no promise of this layer's own for it (99 % at the default rate).
    if (span === undefined || !span.sampled) return next(req);
    const attempt = span;
    return next(req).then(
      (res: UpstreamResponse) => {
        try {
          const end: SpanEnd = { status: res.status };
          whenAnswered(res.body, req.upgrade !== null, () => finish(req, attempt, end));
        } catch {
          t.metrics.telemetryError();
        }
        return res;
      },
      (error: unknown) => {
        finish(req, attempt, refusalOf(error));
        throw error;
      },
    );
  };
}
