// What flows through the inbound stack: a verified peer's request, and the local app's answer.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Handler, Layer } from '../../pipeline/layer.js';
import type { CancelSignal } from '../../pipeline/cancellation.js';

// Decided once per TLS session from the verified client certificate.
export type PeerCheck = { ok: true; id: string } | { ok: false; reason: string };

export interface InboundRequest {
  method: string;
  path: string;
  authority: string;
  // As received over HTTP/2, pseudo-headers included; converted only by the layer that talks HTTP/1.1.
  headers: IncomingHttpHeaders;
  // null when the peer sent END_STREAM with the headers.
  body: Readable | null;
  // websocket: an RFC 8441 extended CONNECT. tcp: a plain CONNECT carrying an opaque connection.
  upgrade: 'websocket' | 'tcp' | null;
  // Which app port to hand the request to (a declared one, or --app-port), and in which protocol.
  appPort: number | null;
  appProtocol: 'http1' | 'h2';
  peer: PeerCheck;
  // Arrived without TLS (only ever let in under MeshConfig mTLS mode PERMISSIVE).
  plaintext: boolean;
  // Set by authn once the peer is known to be a workload of this trust domain; null for plaintext.
  peerId: string | null;
  // Aborted when the peer cancels or resets the stream.
  readonly signal: CancelSignal;
}

export interface AppResponse {
  // HTTP/2-ready, ':status' included.
  headers: OutgoingHttpHeaders;
  // A Buffer when the whole body came with the head (then nothing streams, and the answer is done).
  body: Readable | Buffer;
  // For an accepted upgrade: the app's socket, and bytes it sent right after its 101.
  tunnel: Duplex | null;
  head: Buffer | null;
  // The body is an HTTP/2 stream whose trailers (grpc-status) must reach the caller.
  withTrailers?: boolean;
  // The app's HEADERS frame ended its answer (a gRPC trailers-only answer): relay it as one frame.
  headersOnly?: boolean;
}

export type InboundHandler = Handler<InboundRequest, AppResponse>;
export type InboundLayer = Layer<InboundRequest, AppResponse>;
