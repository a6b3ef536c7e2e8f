// Pool of HTTP/2 mTLS sessions to peer sidecars: one per endpoint and expected identity, multiplexed and reused.
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Logger } from '@tsmesh/proto';
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { MeshError, TlsHandshakeError, UpstreamConnectError, UpstreamResetError } from '../errors.js';
import { expectIdentity, secureContextOptions } from './tls-options.js';

export interface SessionPoolOptions {
  tls: TlsMaterialSource;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  logger: Logger;
  onHandshake?: (result: 'success' | 'handshake_error') => void;
}

// How far a connection got decides what a failure means: refused, handshake, or a drop after it.
type ConnectStage = 'tcp' | 'tls' | 'h2';

interface Entry {
  session: ClientHttp2Session;
  ready: boolean;
  promise: Promise<ClientHttp2Session>;
}

const RETIRED_QUIET_MS = 1_000;

const CONNECT_ERRNO = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  // Why a session's socket died: streams only see a bare close, the socket saw the TLS alert or errno.
  private readonly socketFailures = new WeakMap<ClientHttp2Session, Error>();
  // Sessions whose peer sent its SETTINGS, i.e. accepted our certificate and speaks HTTP/2.
  private readonly greeted = new WeakSet<ClientHttp2Session>();
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SessionPoolOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    // Certificates are only checked at handshake: live sessions stay valid, but new ones must use the new material.
    this.unsubscribe = options.tls.onChange(() => this.retireAll());
  }

  // Whether a session to this endpoint is open or opening (it counts against a connection limit).
  has(endpoint: ServiceEndpoint): boolean {
    const entry = this.entries.get(keyOf(endpoint));
    return entry !== undefined && !entry.session.closed && !entry.session.destroyed;
  }

  // The fast path: a connected session, without a promise hop.
  ready(endpoint: ServiceEndpoint): ClientHttp2Session | undefined {
    const entry = this.entries.get(keyOf(endpoint));
    return entry?.ready && !entry.session.closed && !entry.session.destroyed ? entry.session : undefined;
  }

  // connectTimeoutMs: the destination's own (DestinationPolicy connectionPool.connectTimeout), else the pool's.
  connect(endpoint: ServiceEndpoint, connectTimeoutMs?: number): Promise<ClientHttp2Session> {
    const key = keyOf(endpoint);
    const existing = this.entries.get(key);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing.promise;
    const entry = this.open(key, endpoint, connectTimeoutMs ?? this.connectTimeoutMs);
    this.entries.set(key, entry);
    return entry.promise;
  }

  // Graceful: close() lets in-flight streams finish; only new requests move to new sessions.
  // Why a session died under its streams, when the pool can tell better than "reset".
  failureOf(session: ClientHttp2Session, endpoint: ServiceEndpoint): MeshError | undefined {
    const socketError = this.socketFailures.get(session);
    if (socketError) return classifyConnectError(socketError, 'tls', endpoint.address, endpoint.identity);
    if (session.destroyed && !this.greeted.has(session)) {
      // TLS 1.3 lets the client finish first; a peer that refuses our certificate hangs up before its SETTINGS.
      return new TlsHandshakeError(`outbound/tls: ${endpoint.address} (${endpoint.identity}) closed the connection after the TLS handshake without speaking HTTP/2; it most likely refused our certificate`);
    }
    return undefined;
  }

  // New requests go to new sessions at once; a retired session closes after a quiet second, not
  // now: close() right away refuses streams that were opened but not yet sent (REFUSED_STREAM).
  retireAll(): void {
    for (const entry of this.entries.values()) {
      const quietClose = (session: ClientHttp2Session): void => {
        session.setTimeout(RETIRED_QUIET_MS, () => session.close());
      };
      if (entry.ready) quietClose(entry.session);
      else entry.promise.then(quietClose, () => undefined);
    }
    this.entries.clear();
  }

  destroy(): void {
    this.unsubscribe();
    for (const entry of this.entries.values()) entry.session.destroy();
    this.entries.clear();
  }

  private open(key: string, endpoint: ServiceEndpoint, connectTimeoutMs: number): Entry {
    const { address, identity } = endpoint;
    const material = this.options.tls.current();
    const { host, port } = splitAddress(address);
    let stage: ConnectStage = 'tcp';
    let socket: TLSSocket | undefined;
    const session = h2connect(`https://${address}`, {
      createConnection: () => {
        socket = tlsConnect({
          ...secureContextOptions(material),
          host,
          port,
          ALPNProtocols: ['h2'],
          rejectUnauthorized: true,
          checkServerIdentity: expectIdentity(identity, address),
        });
        socket.once('connect', () => (stage = 'tls'));
        socket.once('secureConnect', () => (stage = 'h2'));
        socket.once('error', (error: Error) => this.socketFailures.set(session, error));
        return socket;
      },
    });
    const entry: Entry = { session, ready: false, promise: Promise.resolve(session) };
    entry.promise = new Promise<ClientHttp2Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy(new UpstreamConnectError(`outbound/connect: no connection to ${address} (${identity}) within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        if (stage !== 'tcp') this.options.onHandshake?.('handshake_error');
        if (this.entries.get(key) === entry) this.entries.delete(key);
        reject(classifyConnectError(error, stage, address, identity));
      };
      const closedEarly = (): void => fail(undefined);
      session.once('error', fail);
      session.once('close', closedEarly);
      session.once('connect', () => {
        clearTimeout(timer);
        session.off('error', fail);
        session.off('close', closedEarly);
        entry.ready = true;
        this.options.onHandshake?.('success');
        resolve(session);
      });
    });
    session.on('error', (error: Error) => this.options.logger.debug('peer session error', { address, identity, error: error.message }));
    session.once('remoteSettings', () => this.greeted.add(session));
    session.once('close', () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    // A peer draining (GOAWAY) finishes our streams but takes no new ones; new requests need a new session.
    session.once('goaway', () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    session.setTimeout(this.idleTimeoutMs, () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      session.close();
    });
    // The pool must never be what keeps a process alive; listeners and in-flight requests do that.
    session.unref();
    return entry;
  }
}

function keyOf(endpoint: ServiceEndpoint): string {
  return `${endpoint.address}|${endpoint.identity}`;
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
  return new UpstreamResetError(`outbound/h2: ${address} (${identity}) closed the session before it was ready: ${detail}`, { cause: error });
}
