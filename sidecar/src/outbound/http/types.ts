// What flows through the outbound stack: the app's request as the layers see it, and the peer's answer.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { MuxStream } from '../../transport/mux/stream.js';
import type { ServiceEndpoint, ServiceName } from '../../discovery/endpoint-resolver.js';
import type { RoutePlan } from '@tsmesh/proto';
import type { Handler, Layer } from '../../pipeline/layer.js';
import type { SpanHandle } from '../../telemetry/tracing.js';
import { InternalError, MeshError } from '../../errors.js';
import { Cancellation, type CancelSignal } from '../../pipeline/cancellation.js';

export interface OutboundRequest {
  method: string;
  // The Host the app addressed; sent as :authority and used to find the service.
  authority: string;
  path: string;
  // Already HTTP/2-clean (no hop-by-hop, no pseudo-headers); the forward layer adds the pseudo-headers.
  headers: OutgoingHttpHeaders;
  // null when the app sent no body, so HEADERS carries END_STREAM.
  body: Readable | null;
  // websocket: an HTTP/1.1 Upgrade, carried as an RFC 8441 extended CONNECT. tcp: an opaque
  // connection (transparent mode), carried as a plain CONNECT to the authority "ip:port".
  upgrade: 'websocket' | 'tcp' | null;
  // Transparent mode: the app port the app dialled, and whether it spoke HTTP/2 (h2c, gRPC) to it;
  // the peer's inbound side hands the request to that port, in that protocol.
  appPort: number | null;
  appProtocol: 'h2' | null;
  // Transparent mode, a pod dialled by its own IP: only that endpoint of the service may serve it.
  pinnedNodeId: string | null;
  // Set by the target layer: the service the app addressed.
  service: ServiceName | null;
  // Set by the route layer: the matched rule's policy and the (weighted) backend service to call.
  route: RoutePlan | null;
  backend: ServiceName | null;
  // Set by the load balancer.
  endpoint: ServiceEndpoint | null;
  // Set by the telemetry layer: the request's span, the parent of each try's span (a retry's copy shares it).
  span: SpanHandle | null;
  // The destination's connect timeout (DestinationPolicy); null: the pool's default.
  connectTimeoutMs: number | null;
  // Route-configured overall timeout; null means the listener's default.
  timeoutMs: number | null;
  // 1 for the first try; the retry layer counts up.
  attempt: number;
  // Endpoints (by address) that failed this request already; the balancer prefers others. null until a try fails.
  avoid: Set<string> | null;
  // Aborted when the request must stop (timeout, app went away); the reason is a MeshError.
  readonly signal: CancelSignal;
  cancel(reason: MeshError): void;
}

// A body streamed both ways: node:http2's stream, or a tsmesh/1 stream's Duplex. close(code) resets it with an HTTP/2 error code.
export type StreamBody = Duplex & { close(code?: number): void; readonly rstCode?: number | undefined };

// The exchange's stream: HTTP/2, or tsmesh/1, whose body is read whole (readWhole) or through streamBody().
export type UpstreamBody = StreamBody | MuxStream;

// The exchange's body as a Duplex; a tsmesh/1 stream makes one only now.
export function streamBody(body: UpstreamBody): StreamBody {
  return body instanceof MuxStream ? body.duplex() : body;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  // The response body (streamBody(): its readable side); for an upgrade, the tunnel both ways.
  body: UpstreamBody;
  // The response HEADERS frame ended the stream (a gRPC trailers-only answer).
  headersOnly?: boolean;
}

export type OutboundHandler = Handler<OutboundRequest, UpstreamResponse>;
export type OutboundLayer = Layer<OutboundRequest, UpstreamResponse>;

export function createOutboundRequest(fields: Pick<OutboundRequest, 'method' | 'authority' | 'path' | 'headers' | 'body' | 'upgrade'>): OutboundRequest {
  const cancellation = new Cancellation();
  return {
    method: fields.method,
    authority: fields.authority,
    path: fields.path,
    headers: fields.headers,
    body: fields.body,
    upgrade: fields.upgrade,
    appPort: null,
    appProtocol: null,
    pinnedNodeId: null,
    service: null,
    route: null,
    backend: null,
    endpoint: null,
    span: null,
    connectTimeoutMs: null,
    timeoutMs: null,
    attempt: 1,
    avoid: null,
    signal: cancellation,
    cancel: (reason) => cancellation.cancel(reason),
  };
}

// Why the request was cancelled; cancel() only takes MeshErrors, but the signal's type cannot say so.
export function cancelReason(req: OutboundRequest): MeshError {
  const reason: unknown = req.signal.reason;
  return reason instanceof MeshError ? reason : new InternalError('outbound: the request was cancelled without a reason');
}
