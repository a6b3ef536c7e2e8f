// The control plane's HTTP port: /metrics, /ready, the OTLP/HTTP trace receiver, and the trace API and pages.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { decodeExportTraceServiceRequest, type Logger } from '@tsmesh/proto';
import { METRICS_CONTENT_TYPE, type ControlPlaneMetrics } from './metrics.js';
import { fromDecoded, type TraceStore } from './trace-store.js';
import { renderTraceListPage, renderTracePage } from './trace-page.js';

const gunzipAsync = promisify(gunzip);

export interface ObservabilityHttpOptions {
  // HOST:PORT; port 0 picks a free one.
  listen: string;
  metrics: ControlPlaneMetrics;
  traces: TraceStore;
  ready: () => boolean;
  logger: Logger;
  // An OTLP export larger than this (after gunzip) is refused with 413.
  maxBodyBytes?: number;
}

export interface ObservabilityHttpServer {
  // HOST:PORT actually bound.
  address: string;
  // The OTLP/HTTP traces URL sidecars can export to.
  otlpEndpoint: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
const MAX_LIST = 1_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function splitListen(listen: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(listen);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        // The rest is read and dropped so the 413 reaches the client; requestTimeout bounds that.
        over = true;
        chunks = [];
        reject(new HttpError(413, `request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startObservabilityHttp(options: ObservabilityHttpOptions): Promise<ObservabilityHttpServer> {
  const parsed = splitListen(options.listen);
  if (!parsed) throw new Error(`http listen address "${options.listen}" must be HOST:PORT`);
  const { metrics, traces, logger } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;

  const receive = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/x-protobuf')) throw new HttpError(415, 'only OTLP/HTTP protobuf (application/x-protobuf) is accepted');
    let body = await readBody(req, maxBody);
    if (req.headers['content-encoding'] === 'gzip') body = await gunzipAsync(body, { maxOutputLength: maxBody });
    let spans;
    try {
      spans = decodeExportTraceServiceRequest(body, 'http');
    } catch (error) {
      throw new HttpError(400, `not an ExportTraceServiceRequest: ${(error as Error).message}`);
    }
    traces.add(spans.map(fromDecoded));
    // An empty ExportTraceServiceResponse: every span accepted.
    send(res, 200, 'application/x-protobuf', Buffer.alloc(0));
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://control-plane');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/v1/traces') {
      if (req.method !== 'POST') throw new HttpError(405, 'POST an OTLP ExportTraceServiceRequest');
      return receive(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method ?? ''} is not served here`);
    if (path === '/metrics') return send(res, 200, METRICS_CONTENT_TYPE, metrics.render());
    if (path === '/ready') return options.ready() ? send(res, 200, 'text/plain', 'ready\n') : send(res, 503, 'text/plain', 'not ready\n');
    if (path === '/api/traces' || path === '/traces') {
      const limitText = url.searchParams.get('limit') ?? (path === '/traces' ? '100' : '20');
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, `limit "${limitText}" must be a whole number >= 1`);
      const list = traces.list(Math.min(limit, MAX_LIST));
      return path === '/traces' ? send(res, 200, 'text/html; charset=utf-8', renderTraceListPage(list)) : sendJson(res, 200, { traces: list });
    }
    const one = /^\/(api\/traces|traces)\/([0-9a-fA-F]{32})$/.exec(path);
    if (one) {
      const trace = traces.get(one[2] ?? '');
      if (!trace) throw new HttpError(404, `trace ${one[2]} is not in the store (never received, or evicted)`);
      return one[1] === 'traces' ? send(res, 200, 'text/html; charset=utf-8', renderTracePage(trace)) : sendJson(res, 200, trace);
    }
    if (path === '/') return send(res, 200, 'text/plain', 'tsmesh control plane: /metrics /ready /traces /api/traces POST /v1/traces\n');
    throw new HttpError(404, `${path} not found`);
  };

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500) logger.warn('observability request failed', { path: req.url, error: String(error) });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      if (req.url?.startsWith('/api/')) sendJson(res, status, { error: message });
      else send(res, status, 'text/plain', `${message}\n`);
    });
  });
  // A misbehaving client (or a port scan) must never take the control plane down.
  server.on('clientError', (_error, socket) => socket.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error('observability HTTP server error', { error: String(error) }));
  const port = (server.address() as AddressInfo).port;
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  const address = `${host}:${port}`;
  // A wildcard bind is reachable on loopback; a sidecar cannot dial 0.0.0.0 on every platform.
  const dialHost = parsed.host === '0.0.0.0' ? '127.0.0.1' : parsed.host === '::' ? '[::1]' : host;
  return {
    address,
    otlpEndpoint: `http://${dialHost}:${port}/v1/traces`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
