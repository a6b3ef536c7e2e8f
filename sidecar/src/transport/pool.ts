// Pool of mTLS connections to peer sidecars, one per endpoint, identity and kind: tsmesh/1 (or HTTP/2 with an older peer) for plain exchanges, HTTP/2 for the rest.
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Logger } from '@tsmesh/proto';
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { MeshError, TlsHandshakeError, UpstreamConnectError, UpstreamResetError } from '../errors.js';
import { expectIdentity, secureContextOptions } from './tls-options.js';
import { ALPN_MUX } from './mux/frames.js';
import { MuxConnection } from './mux/connection.js';

export type PeerTransport = MuxConnection | ClientHttp2Session;

// plain: a request/answer exchange, carried by tsmesh/1 when the peer speaks it. http2: upgrades,
// CONNECT tunnels and HTTP/2 apps (trailers), which only HTTP/2 carries.
export type ExchangeKind = 'plain' | 'http2';

export interface SessionPoolOptions {
  tls: TlsMaterialSource;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  // What plain exchanges offer by ALPN, in order of preference; ['h2'] turns tsmesh/1 off.
  peerProtocols?: readonly string[];
  logger: Logger;
  onHandshake?: (result: 'success' | 'handshake_error') => void;
}

// How far a connection got decides what a failure means: refused, handshake, or a drop after it.
type ConnectStage = 'tcp' | 'tls' | 'session';

interface Entry {
  transport: PeerTransport | null;
  promise: Promise<PeerTransport>;
}

const RETIRED_QUIET_MS = 1_000;

const CONNECT_ERRNO = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

export function isOpen(transport: PeerTransport): boolean {
  return transport instanceof MuxConnection ? transport.usable : !transport.closed && !transport.destroyed;
}

export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  // Why a connection's socket died: streams only see a bare close, the socket saw the TLS alert or errno.
  private readonly socketFailures = new WeakMap<PeerTransport, Error>();
  // HTTP/2 sessions whose peer sent its SETTINGS, i.e. accepted our certificate and speaks HTTP/2.
  private readonly greeted = new WeakSet<ClientHttp2Session>();
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly plainProtocols: readonly string[];
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SessionPoolOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.plainProtocols = options.peerProtocols ?? [ALPN_MUX, 'h2'];
    // Certificates are only checked at handshake: live connections stay valid, but new ones must use the new material.
    this.unsubscribe = options.tls.onChange(() => this.retireAll());
  }

  // Whether a connection to this endpoint is open or opening (it counts against a connection limit).
  has(endpoint: ServiceEndpoint): boolean {
    return isLive(this.entries.get(keyOf(endpoint, 'plain'))) || isLive(this.entries.get(keyOf(endpoint, 'http2')));
  }

  // The fast path: a connected transport, without a promise hop.
  ready(endpoint: ServiceEndpoint, kind: ExchangeKind): PeerTransport | undefined {
    const transport = this.entries.get(keyOf(endpoint, kind))?.transport;
    return transport && isOpen(transport) ? transport : undefined;
  }

  // connectTimeoutMs: the destination's own (DestinationPolicy connectionPool.connectTimeout), else the pool's.
  connect(endpoint: ServiceEndpoint, kind: ExchangeKind, connectTimeoutMs?: number): Promise<PeerTransport> {
    const key = keyOf(endpoint, kind);
    const existing = this.entries.get(key);
    if (isLive(existing)) return existing.promise;
    const protocols = kind === 'plain' ? this.plainProtocols : ['h2'];
    const entry = this.open(key, endpoint, connectTimeoutMs ?? this.connectTimeoutMs, protocols);
    this.entries.set(key, entry);
    return entry.promise;
  }

  // Why a connection died under its streams, when the pool can tell better than "reset".
  failureOf(transport: PeerTransport, endpoint: ServiceEndpoint): MeshError | undefined {
    const socketError = this.socketFailures.get(transport);
    if (socketError) return classifyConnectError(socketError, 'tls', endpoint.address, endpoint.identity);
    const greeted = transport instanceof MuxConnection ? transport.greeted : this.greeted.has(transport);
    if ((transport instanceof MuxConnection ? transport.closed : transport.destroyed) && !greeted) {
      // TLS 1.3 lets the client finish first; a peer that refuses our certificate hangs up before its first frame.
      return new TlsHandshakeError(`outbound/tls: ${endpoint.address} (${endpoint.identity}) closed the connection after the TLS handshake without a word; it most likely refused our certificate`);
    }
    return undefined;
  }

  // New requests go to new connections at once. A retired tsmesh/1 connection drains (it finishes what
  // it carries); a retired HTTP/2 session closes after a quiet second, not now: close() right away
  // refuses streams that were opened but not yet sent (REFUSED_STREAM).
  retireAll(): void {
    for (const entry of this.entries.values()) {
      const retire = (transport: PeerTransport): void => {
        if (transport instanceof MuxConnection) transport.drain('new certificate');
        else transport.setTimeout(RETIRED_QUIET_MS, () => transport.close());
      };
      if (entry.transport) retire(entry.transport);
      else entry.promise.then(retire, () => undefined);
    }
    this.entries.clear();
  }

  destroy(): void {
    this.unsubscribe();
    for (const entry of this.entries.values()) entry.transport?.destroy();
    this.entries.clear();
  }

  private open(key: string, endpoint: ServiceEndpoint, connectTimeoutMs: number, protocols: readonly string[]): Entry {
    const { address, identity } = endpoint;
    const { host, port } = splitAddress(address);
    let stage: ConnectStage = 'tcp';
    const socket = tlsConnect({
      ...secureContextOptions(this.options.tls.current()),
      host,
      port,
      ALPNProtocols: [...protocols],
      rejectUnauthorized: true,
      checkServerIdentity: expectIdentity(identity, address),
    });
    socket.once('connect', () => (stage = 'tls'));
    // The promise is set right below; the callbacks that read the entry run later.
    const entry = { transport: null } as Entry;
    const forget = (): void => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    entry.promise = new Promise<PeerTransport>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy(new UpstreamConnectError(`outbound/connect: no connection to ${address} (${identity}) within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        if (stage !== 'tcp') this.options.onHandshake?.('handshake_error');
        forget();
        reject(classifyConnectError(error, stage, address, identity));
      };
      const closedEarly = (): void => fail(undefined);
      socket.once('error', fail);
      socket.once('close', closedEarly);
      const ready = (transport: PeerTransport): void => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.off('close', closedEarly);
        entry.transport = transport;
        this.options.onHandshake?.('success');
        resolve(transport);
      };
      socket.once('secureConnect', () => {
        stage = 'session';
        socket.on('error', (error: Error) => {
          if (entry.transport) this.socketFailures.set(entry.transport, error);
        });
        if (socket.alpnProtocol === ALPN_MUX) ready(this.muxTransport(socket, forget));
        else this.h2Transport(socket, endpoint, forget, ready, fail);
      });
    });
    return entry;
  }

  private muxTransport(socket: TLSSocket, forget: () => void): MuxConnection {
    const connection = new MuxConnection(socket, 'client', { idleTimeoutMs: this.idleTimeoutMs });
    // A peer draining finishes our streams but takes no new ones; new requests need a new connection.
    connection.once('drain', forget);
    connection.once('close', forget);
    // The pool must never be what keeps a process alive; listeners and in-flight requests do that.
    socket.unref();
    return connection;
  }

  // An older peer (or an exchange that needs HTTP/2): the negotiated socket becomes an HTTP/2 session.
  private h2Transport(socket: TLSSocket, endpoint: ServiceEndpoint, forget: () => void, ready: (session: ClientHttp2Session) => void, fail: (error: unknown) => void): void {
    const { address, identity } = endpoint;
    const session = h2connect(`https://${address}`, { createConnection: () => socket });
    session.once('error', fail);
    session.once('connect', () => {
      session.off('error', fail);
      ready(session);
    });
    session.on('error', (error: Error) => this.options.logger.debug('peer session error', { address, identity, error: error.message }));
    session.once('remoteSettings', () => this.greeted.add(session));
    session.once('close', forget);
    session.once('goaway', forget);
    session.setTimeout(this.idleTimeoutMs, () => {
      forget();
      session.close();
    });
    session.unref();
  }
}

// Open, or still opening.
function isLive(entry: Entry | undefined): entry is Entry {
  return entry !== undefined && (entry.transport === null || isOpen(entry.transport));
}

// An endpoint's keys, made once per endpoint object: discovery hands out the same objects until the
// endpoints change, and building and hashing a new "kind|address|identity" string on every request was
// a measurable part of the fast path.
const endpointKeys = new WeakMap<ServiceEndpoint, Record<ExchangeKind, string>>();

function keyOf(endpoint: ServiceEndpoint, kind: ExchangeKind): string {
  let keys = endpointKeys.get(endpoint);
  if (keys === undefined) {
    keys = { plain: `plain|${endpoint.address}|${endpoint.identity}`, http2: `http2|${endpoint.address}|${endpoint.identity}` };
    endpointKeys.set(endpoint, keys);
  }
  return keys[kind];
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}

function classifyConnectError(error: unknown, stage: ConnectStage, address: string, identity: string): MeshError {
  if (error instanceof MeshError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const detail = error instanceof Error ? error.message : 'the connection closed';
  if (stage === 'tcp' || CONNECT_ERRNO.has(code)) {
    const what = code === 'ECONNREFUSED' ? 'connection refused by' : `could not connect to`;
    return new UpstreamConnectError(`outbound/connect: ${what} ${address} (${identity}): ${detail}`, { cause: error });
  }
  if (stage === 'tls') {
    return new TlsHandshakeError(`outbound/tls: handshake with ${address} (${identity}) failed: ${detail}`, { cause: error });
  }
  return new UpstreamResetError(`outbound/peer: ${address} (${identity}) closed the connection before it was ready: ${detail}`, { cause: error });
}
