// The control plane's stream server: mTLS HTTPS with WebSockets for sidecars (/v1/sidecar) and meshctl (/v1/tap), and /v1/stats.
import { createServer, type Server } from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, WebSocket } from 'ws';
import { createLogger, isValidName, parseDuration, type Logger } from '@tsmesh/proto';
import type { CertificateAuthority } from '../ca/index.js';
import { authorizeAdminPeer, authorizeSidecarPeer } from './authorize-peer.js';
import { StreamHub, type SidecarSession } from './hub.js';
import { frameText, parseSidecarMessage, type TapFilter, type TapStreamMessage } from './protocol.js';
import { aggregateStats, type StatsQuery } from './stats.js';

export const DEFAULT_STREAM_PORT = 15015;

export interface StreamServerOptions {
  // host:port; port 0 picks a free one.
  listen: string;
  // Structural, so a CA from the built package (tests, embedding) fits as well as one from source.
  ca: Pick<CertificateAuthority, 'trustDomain' | 'issueServingCertificate' | 'trustBundle'>;
  // The control plane's own SPIFFE ID, which clients check the serving certificate for.
  spiffeId: string;
  servingDnsNames?: string[];
  logger?: Logger;
  // How long a stats collection waits for sidecars that do not answer.
  statsTimeoutMs?: number;
  heartbeatMs?: number;
}

export interface RunningStreamServer {
  address: string;
  hub: StreamHub;
  close(): Promise<void>;
}

const SERVING_CERT_TTL_MS = 24 * 3600_000;
const HELLO_TIMEOUT_MS = 10_000;
const MAX_STATS_WINDOW_MS = 10_000;
// Past this much unsent data meshctl is not reading; events are dropped and counted rather than queued.
const MAX_TAP_BUFFERED_BYTES = 4 << 20;

type Query = { ok: true; value: TapFilter } | { ok: false; reason: string };

function tapFilter(url: URL): Query {
  const service = url.searchParams.get('service') ?? '';
  const namespace = url.searchParams.get('namespace') ?? 'default';
  if (!isValidName(service)) return { ok: false, reason: `service "${service}" is not a DNS-1123 label` };
  if (!isValidName(namespace)) return { ok: false, reason: `namespace "${namespace}" is not a DNS-1123 label` };
  const filter: TapFilter = { service, namespace, headers: url.searchParams.get('headers') === 'true' };
  const path = url.searchParams.get('path');
  const method = url.searchParams.get('method');
  if (path) filter.path = path;
  if (method) filter.method = method.toUpperCase();
  return { ok: true, value: filter };
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
  res.end(typeof body === 'string' ? `${body}\n` : JSON.stringify(body));
}

export async function startStreamServer(options: StreamServerOptions): Promise<RunningStreamServer> {
  const logger = options.logger ?? createLogger('control-plane.stream');
  const { ca } = options;
  const trustDomain = ca.trustDomain;
  const hub = new StreamHub();
  const statsTimeoutMs = options.statsTimeoutMs ?? 2_000;
  const secureContext = async (): Promise<{ key: string; cert: string; ca: string[] }> => {
    const serving = await ca.issueServingCertificate({ spiffeId: options.spiffeId, dnsNames: options.servingDnsNames ?? [], ttlMs: SERVING_CERT_TTL_MS });
    return { key: serving.keyPem, cert: serving.certChainPem.join(''), ca: ca.trustBundle() };
  };
  const server: Server = createServer({ ...(await secureContext()), requestCert: true, rejectUnauthorized: true });
  // Renewed at half its life, like the gRPC port's; the trust bundle is re-read with it.
  const renewTimer = setInterval(() => {
    secureContext().then(
      (context) => server.setSecureContext(context),
      (error: unknown) => logger.error('could not renew the stream server certificate', { error: (error as Error).message }),
    );
  }, SERVING_CERT_TTL_MS / 2);
  renewTimer.unref();

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 << 20 });
  const alive = new WeakSet<WebSocket>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.heartbeatMs ?? 20_000);
  heartbeat.unref();
  const track = (ws: WebSocket): void => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('error', (error) => logger.debug('stream socket error', { error: error.message }));
  };

  const acceptSidecar = (ws: WebSocket, spiffeId: string, namespace: string): void => {
    track(ws);
    let session: SidecarSession | undefined;
    const helloTimer = setTimeout(() => ws.close(1008, 'expected a hello message first'), HELLO_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => {
      const message = isBinary ? undefined : parseSidecarMessage(frameText(data));
      if (message === undefined) return;
      if (session !== undefined) return hub.handle(session, message);
      clearTimeout(helloTimer);
      if (message.type !== 'hello') return ws.close(1008, 'expected a hello message first');
      if (!isValidName(message.service)) return ws.close(1008, `service "${message.service}" is not a DNS-1123 label`);
      // The certificate vouches for the namespace; the service name is the sidecar's word within it.
      if (message.namespace !== namespace) return ws.close(1008, `namespace "${message.namespace}" does not match the certificate's ${spiffeId}`);
      session = {
        nodeId: message.nodeId,
        spiffeId,
        service: message.service,
        namespace,
        connectedAt: Date.now(),
        send: (m) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
        },
      };
      hub.add(session);
      logger.debug('sidecar stream connected', { nodeId: session.nodeId, spiffeId });
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (session !== undefined) hub.remove(session);
    });
  };

  const acceptTap = (ws: WebSocket, filter: TapFilter): void => {
    track(ws);
    let dropped = 0;
    const deliver = (message: TapStreamMessage): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (ws.bufferedAmount > MAX_TAP_BUFFERED_BYTES) {
        dropped += message.type === 'dropped' ? message.count : 1;
        return;
      }
      if (dropped > 0) {
        ws.send(JSON.stringify({ type: 'dropped', nodeId: 'control-plane', count: dropped } satisfies TapStreamMessage));
        dropped = 0;
      }
      ws.send(JSON.stringify(message));
    };
    const stop = hub.startTap(filter, deliver);
    ws.on('close', stop);
    logger.info('tap started', { service: filter.service, namespace: filter.namespace, sidecars: hub.list().length });
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://stream');
    if (url.pathname === '/v1/sidecar') {
      const peer = authorizeSidecarPeer(socket as TLSSocket, trustDomain);
      if (!peer.ok) return refuse(socket, peer.status, peer.reason);
      wss.handleUpgrade(req, socket, head, (ws) => acceptSidecar(ws, peer.value.spiffeId, peer.value.identity.namespace));
    } else if (url.pathname === '/v1/tap') {
      const admin = authorizeAdminPeer(socket as TLSSocket, trustDomain);
      if (!admin.ok) return refuse(socket, admin.status, admin.reason);
      const filter = tapFilter(url);
      if (!filter.ok) return refuse(socket, 400, filter.reason);
      wss.handleUpgrade(req, socket, head, (ws) => acceptTap(ws, filter.value));
    } else {
      refuse(socket, 404, `no WebSocket endpoint ${url.pathname}; try /v1/tap`);
    }
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://stream');
    if (url.pathname !== '/v1/stats' || req.method !== 'GET') return reply(res, 404, `no endpoint ${req.method} ${url.pathname}; try GET /v1/stats`);
    const admin = authorizeAdminPeer(req.socket as TLSSocket, trustDomain);
    if (!admin.ok) return reply(res, admin.status, admin.reason);
    const window = parseDuration(url.searchParams.get('window') ?? '1s', 'window');
    if (!window.ok || window.value > MAX_STATS_WINDOW_MS) return reply(res, 400, `window must be a duration of at most ${MAX_STATS_WINDOW_MS / 1000}s`);
    const query: StatsQuery = { byRoute: url.searchParams.get('by-route') === 'true' };
    for (const field of ['service', 'namespace'] as const) {
      const value = url.searchParams.get(field);
      if (value === null || value === '') continue;
      if (!isValidName(value)) return reply(res, 400, `${field} "${value}" is not a DNS-1123 label`);
      query[field] = value;
    }
    void (async () => {
      const before = window.value > 0 ? await hub.collectStats(statsTimeoutMs) : [];
      if (window.value > 0) await new Promise((resolve) => setTimeout(resolve, window.value));
      const after = await hub.collectStats(statsTimeoutMs);
      reply(res, 200, aggregateStats(before, after, window.value, query));
    })().catch((error: unknown) => reply(res, 500, (error as Error).message));
  });
  server.on('tlsClientError', (error) => logger.debug('stream server TLS handshake failed', { error: error.message }));

  const colon = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(options.listen.slice(colon + 1)), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const address = `${options.listen.slice(0, colon)}:${port}`;
  logger.info('stream server listening', { address });
  return {
    address,
    hub,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(renewTimer);
        clearInterval(heartbeat);
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
