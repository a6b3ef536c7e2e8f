// Inbound listener: mTLS from peer sidecars (tsmesh/1 or HTTP/2, by ALPN), verified peer identity, forwarded to the local app.
import { constants as h2c, createServer as createH2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createLogger, type Logger } from '@tsmesh/proto';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { BadRequestError, toMeshError } from '../errors.js';
import { isGrpc, respondGrpc, respondHttp2 } from '../errors-respond.js';
import { answerWhole, relayToH2 } from '../pipeline/h2-relay.js';
import { appTarget } from './app-target.js';
import { H2AppSessions } from './http/app-h2.js';
import { H1AppPool } from './http/app-h1.js';
import { listen, SocketSet, type ListenerHandle } from '../transport/listen.js';
import { secureContextOptions } from '../transport/tls-options.js';
import { checkPeer } from './http/authn.js';
import type { AppResponse, InboundHandler, InboundRequest, PeerCheck } from './http/types.js';
import { buildInboundStack } from './stack.js';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createPlaintextServer, jsStream } from './plaintext.js';
import type { InboundPolicySource } from './http/authz.js';
import type { InboundLayer } from './http/types.js';
import { LoadShedder } from '../resilience/load-shedder.js';
import { Cancellation } from '../pipeline/cancellation.js';
import { ALPN_MUX } from '../transport/mux/frames.js';
import { MuxConnection } from '../transport/mux/connection.js';
import type { MuxStream } from '../transport/mux/stream.js';
import type { MuxBody } from '../transport/mux/body.js';

export interface InboundListenerOptions {
  host: string;
  port: number;
  appHost: string;
  appPort: number;
  // Every port the app serves (transparent mode); a peer may name one of these, and no other.
  appPorts?: number[];
  tls: TlsMaterialSource;
  trustDomain: string;
  policies: InboundPolicySource;
  // Load shedding thresholds: in-flight requests and event-loop delay (p99 of the last interval).
  maxInFlight?: number;
  maxEventLoopDelayMs?: number;
  observer?: InboundLayer;
  // What peers may negotiate by ALPN; ['h2'] turns tsmesh/1 off.
  peerProtocols?: readonly string[];
  events?: { rateLimited?: () => void; shed?: () => void; handshake?: (result: 'success' | 'handshake_error' | 'identity_rejected') => void };
  logger?: Logger;
}

// The first byte of every TLS connection is a handshake record (0x16); anything else is plaintext.
const TLS_HANDSHAKE = 0x16;
const FIRST_BYTE_TIMEOUT_MS = 10_000;
const APP_IDLE_TIMEOUT_MS = 4_000;
const PEER_IDLE_TIMEOUT_MS = 120_000;

export async function startInboundListener(options: InboundListenerOptions): Promise<ListenerHandle> {
  const logger = options.logger ?? createLogger('sidecar.inbound');
  // One listener for every peer stream's errors, not a closure per stream.
  const onStreamError = (error: Error): void => logger.debug('peer stream error', { error: error.message });
  // Idle app connections are dropped after 4 s, below Node's default 5 s server keep-alive: the app
  // never closes a connection we are about to reuse, so a keep-alive race never surfaces as a 502.
  const h1App = new H1AppPool(options.appHost, APP_IDLE_TIMEOUT_MS);
  const h2App = new H2AppSessions(options.appHost);
  const shedder = new LoadShedder({
    maxInFlight: options.maxInFlight ?? 10_000,
    maxEventLoopDelayMs: options.maxEventLoopDelayMs ?? 1_000,
    onChange: (change) => {
      if (change.shedding) logger.warn('load shedding started: new requests are refused with 503 MESH_ERR_OVERLOADED', { reason: change.reason });
      else logger.info('load shedding stopped', { refused: change.refused, forMs: change.forMs });
    },
  });
  const handler = buildInboundStack({
    app: { host: options.appHost, port: options.appPort, h1: h1App, h2: h2App },
    policies: options.policies,
    shedder,
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.events?.rateLimited ? { onRateLimited: options.events.rateLimited } : {}),
    ...(options.events?.shed ? { onShed: options.events.shed } : {}),
  });
  const server = createTlsServer({
    ...secureContextOptions(options.tls.current()),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [...(options.peerProtocols ?? [ALPN_MUX, 'h2'])],
    // A peer that opens a connection and never finishes its handshake must not hold it for Node's 120 s.
    handshakeTimeout: 10_000,
  });
  // TLS is ours; HTTP/2 gets the sockets that negotiated it. (A secure http2 server would offer only h2.)
  const h2 = createH2Server({ settings: { enableConnectProtocol: true } });
  // Idle peer sessions close after 120 s: above the callers' 60 s pool idle timeout, so a caller always
  // closes first and never sends a request on a session we are closing.
  h2.setTimeout(PEER_IDLE_TIMEOUT_MS);
  // Only new handshakes see the new material; live sessions keep the identity they proved.
  const unsubscribe = options.tls.onChange((material) => server.setSecureContext(secureContextOptions(material)));
  const peers = new WeakMap<Http2Session, PeerCheck>();
  const appPorts = new Set([options.appPort, ...(options.appPorts ?? [])]);
  const sessions = new Set<Http2Session>();
  const muxConnections = new Set<MuxConnection>();
  const tunnels = new SocketSet();

  const verifyPeer = (socket: TLSSocket, transport: string): PeerCheck => {
    const cert = socket.getPeerCertificate();
    const peer = checkPeer(cert, options.trustDomain);
    options.events?.handshake?.(peer.ok ? 'success' : 'identity_rejected');
    logger.debug('peer connection opened', { transport, peer: peer.ok ? peer.id : peer.reason, serial: cert.serialNumber, remote: socket.remoteAddress });
    return peer;
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      h2.emit('connection', socket);
      return;
    }
    if (socket.alpnProtocol !== ALPN_MUX) {
      logger.debug('peer refused: it offered no protocol this listener speaks', { offered: socket.alpnProtocol, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    const peer = verifyPeer(socket, ALPN_MUX);
    const connection = new MuxConnection(socket, 'server', { idleTimeoutMs: PEER_IDLE_TIMEOUT_MS });
    muxConnections.add(connection);
    connection.once('close', () => muxConnections.delete(connection));
    connection.on('stream', (stream: MuxStream, headers: IncomingHttpHeaders) => serveStream(handler, stream, headers, peer, tunnels, onStreamError, appPorts));
  });
  h2.on('session', (session: Http2Session) => {
    peers.set(session, verifyPeer(session.socket as TLSSocket, 'h2'));
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (error: Error) => logger.debug('peer session error', { error: error.message }));
  });
  h2.on('stream', (stream, headers) => {
    const peer = peers.get(stream.session as Http2Session) ?? { ok: false, reason: 'has no verified session' };
    serveStream(handler, stream, headers, peer, tunnels, onStreamError, appPorts);
  });
  server.on('tlsClientError', (error: Error & { code?: string }) => {
    options.events?.handshake?.('handshake_error');
    const plaintextHttp = error.code === 'ERR_SSL_HTTP_REQUEST';
    logger.debug(plaintextHttp ? 'plaintext HTTP refused: this port takes only mTLS (MeshConfig mtls.mode STRICT)' : 'peer refused at TLS handshake', { error: error.message });
  });

  const plaintext = createPlaintextServer(handler, logger);
  // One port for both. STRICT (the default) hands every connection to TLS untouched, on Node's
  // native fast path; a plaintext caller fails the handshake. Only PERMISSIVE looks at the first byte.
  const front = createNetServer((socket: Socket) => {
    if (options.policies.current()?.meshConfig?.spec.mtls?.mode !== 'PERMISSIVE') {
      server.emit('connection', socket);
      return;
    }
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      // Bytes read in JavaScript never reach a native TLS handle, so TLS goes through a JS stream here.
      if (chunk[0] === TLS_HANDSHAKE) server.emit('connection', jsStream(socket));
      else plaintext.accept(socket);
      socket.resume();
    });
  });
  const address = await listen(front, options.host, options.port);
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      unsubscribe();
      shedder.close();
      server.close();
      h2.close();
      plaintext.close();
      for (const session of sessions) session.destroy();
      for (const connection of muxConnections) connection.destroy('the inbound listener closed');
      tunnels.destroyAll();
      h1App.close();
      h2App.close();
      if (front.listening) front.close(() => resolve());
      else resolve();
    });
  logger.info('inbound listener started', { address: `${address.host}:${address.port}` });
  return {
    address,
    close,
    // GOAWAY (DRAIN on tsmesh/1) to every peer: callers finish what they sent and open new connections elsewhere.
    drain: async (graceMs) => {
      front.close();
      for (const session of sessions) if (!session.closed) session.close();
      for (const connection of muxConnections) connection.drain('the sidecar is shutting down');
      const deadline = Date.now() + graceMs;
      while (sessions.size + muxConnections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      logger.info('inbound drained', { remainingSessions: sessions.size, remainingConnections: muxConnections.size });
      await close();
    },
  };
}

// A peer's exchange on either transport; tsmesh/1 carries no CONNECT (its callers send upgrades and tunnels over HTTP/2).
type PeerStream = ServerHttp2Stream | MuxStream;

function serveStream(handler: InboundHandler, stream: PeerStream, headers: IncomingHttpHeaders, peer: PeerCheck, tunnels: SocketSet, onStreamError: (error: Error) => void, appPorts: Set<number>): void {
  stream.on('error', onStreamError);
  const method = headers[':method'] ?? 'GET';
  const protocol = headers[':protocol'];
  if (method === 'CONNECT' && !isHttp2(stream)) {
    respondHttp2(stream, new BadRequestError(`inbound/listener: CONNECT is carried over HTTP/2 only, not ${ALPN_MUX}`));
    return;
  }
  if (method === 'CONNECT' && protocol !== undefined && protocol !== 'websocket') {
    respondHttp2(stream, new BadRequestError(`inbound/listener: CONNECT for "${protocol}" is not carried; only websocket, or a plain CONNECT for opaque TCP`));
    return;
  }
  const target = appTarget(method === 'CONNECT' && protocol === undefined, headers, appPorts);
  if (typeof target === 'string') {
    respondHttp2(stream, new BadRequestError(`inbound/listener: ${target}`));
    return;
  }
  const cancellation = new Cancellation();
  const req: InboundRequest = {
    // A WebSocket is the app's GET with Upgrade; an opaque tunnel stays CONNECT (authz and telemetry see TCP).
    method: method === 'CONNECT' && protocol !== undefined ? 'GET' : method,
    path: headers[':path'] ?? '/',
    authority: headers[':authority'] ?? headers.host ?? '',
    headers,
    body: stream.endAfterHeaders || method === 'CONNECT' ? null : streamOf(stream),
    upgrade: method !== 'CONNECT' ? null : protocol === undefined ? 'tcp' : 'websocket',
    appPort: target.port,
    appProtocol: target.protocol,
    peer,
    plaintext: false,
    peerId: null,
    signal: cancellation,
  };
  // 'close' comes once per stream: on() without once()'s wrapper per request.
  stream.on('close', () => {
    // A reset stream also reads as writableFinished, so the RST code is what tells a cancel apart.
    if (stream.rstCode !== h2c.NGHTTP2_NO_ERROR || !stream.writableFinished) cancellation.cancel(undefined);
  });
  handler(req).then(
    (response) => writeAppResponse(stream, response, tunnels),
    (error: unknown) => (isGrpc(headers['content-type']) ? respondGrpc : respondHttp2)(stream, toMeshError(error, 'inbound')),
  );
}

function isHttp2(stream: PeerStream): stream is ServerHttp2Stream {
  return 'session' in stream;
}

// The exchange as a Duplex: a tsmesh/1 stream makes one only for a body it streams.
function streamOf(stream: PeerStream): ServerHttp2Stream | MuxBody {
  return isHttp2(stream) ? stream : stream.duplex();
}

function writeAppResponse(peerStream: PeerStream, response: AppResponse, tunnels: SocketSet): void {
  const tunnel = response.tunnel;
  if (tunnel === null) {
    const body = response.body;
    if (Buffer.isBuffer(body)) return answerWhole(peerStream, response.headers, body);
    // Trailers (an h2 app's) reach the caller over HTTP/2 only; a tsmesh/1 caller's app spoke HTTP/1.1.
    relayToH2(streamOf(peerStream), response.headers, body, response.withTrailers === true && isHttp2(peerStream), response.headersOnly === true);
    return;
  }
  const stream = streamOf(peerStream);
  if (stream.destroyed || stream.closed) {
    tunnel.destroy();
    return;
  }
  stream.respond(response.headers);
  tunnels.add(tunnel);
  if (response.head !== null && response.head.length > 0) stream.write(response.head);
  tunnel.pipe(stream);
  stream.pipe(tunnel);
  // A clean end of either side is a half-close (pipe ends the other); anything else resets both.
  stream.once('close', () => {
    if (!stream.readableEnded || stream.rstCode !== h2c.NGHTTP2_NO_ERROR) tunnel.destroy();
  });
  tunnel.once('close', () => {
    if (!stream.closed) stream.close(tunnel.readableEnded ? h2c.NGHTTP2_NO_ERROR : h2c.NGHTTP2_INTERNAL_ERROR);
  });
  tunnel.on('error', () => stream.close(h2c.NGHTTP2_INTERNAL_ERROR));
}
