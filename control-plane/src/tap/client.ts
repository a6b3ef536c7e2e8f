// meshctl's end of the stream server: the admin certificate from its config, the control plane's SPIFFE ID checked on every connection.
import { request, type RequestOptions } from 'node:https';
import { WebSocket } from 'ws';
import { expectControlPlane } from '@tsmesh/proto';
import type { MeshctlConfig } from '../cli/client-config.js';
import { DEFAULT_STREAM_PORT } from './stream-server.js';
import type { StatsReport } from './stats.js';
import { frameText, type TapStreamMessage } from './protocol.js';

// unreachable: nothing answered; refused: the server said no (status and its reason).
export class StreamApiError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'refused' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

// The stream server listens beside the gRPC port: same host, its own port, unless --stream-server says otherwise.
export function streamServerAddress(config: MeshctlConfig, override?: string): string {
  if (override) return override;
  const colon = config.server.lastIndexOf(':');
  return `${colon > 0 ? config.server.slice(0, colon) : config.server}:${DEFAULT_STREAM_PORT}`;
}

function tlsOptions(config: MeshctlConfig): RequestOptions {
  return {
    ca: config.certificateAuthorityData,
    cert: config.clientCertificateData,
    key: config.clientKeyData,
    // SNI carries a name, not the dialled IP (RFC 6066); identity is checked by SPIFFE ID.
    servername: 'mesh-control-plane',
    checkServerIdentity: expectControlPlane(config.controlPlaneIdentity),
  };
}

export interface TapQuery {
  service: string;
  namespace: string;
  path?: string;
  method?: string;
  headers: boolean;
}

// Resolves when the tap ends: by the signal (normal), or by the server or network (an error).
export function streamTap(config: MeshctlConfig, address: string, query: TapQuery, signal: AbortSignal, onMessage: (message: TapStreamMessage) => void): Promise<void> {
  const params = new URLSearchParams({ service: query.service, namespace: query.namespace });
  if (query.path) params.set('path', query.path);
  if (query.method) params.set('method', query.method);
  if (query.headers) params.set('headers', 'true');
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve();
    const options: RequestOptions & { handshakeTimeout: number; perMessageDeflate: boolean } = { ...tlsOptions(config), handshakeTimeout: 10_000, perMessageDeflate: false };
    const ws = new WebSocket(`wss://${address}/v1/tap?${params.toString()}`, options);
    let settled = false;
    const settle = (error?: StreamApiError): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = (): void => {
      ws.close(1000, 'meshctl stopped');
      settle();
    };
    signal.addEventListener('abort', onAbort);
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        settle(new StreamApiError('refused', `${res.statusCode ?? 0} ${Buffer.concat(chunks).toString().trim()}`));
        ws.terminate();
      });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        onMessage(JSON.parse(frameText(data)) as TapStreamMessage);
      } catch {
        // A frame this meshctl does not understand is skipped.
      }
    });
    ws.on('error', (error) => settle(new StreamApiError(ws.readyState === WebSocket.CONNECTING ? 'unreachable' : 'closed', `cannot reach the stream server at ${address}: ${error.message}`)));
    ws.on('close', (code, reason) => settle(new StreamApiError('closed', `the stream server closed the tap (${code}${reason.length ? `: ${reason.toString()}` : ''})`)));
  });
}

export interface StatsRequest {
  service?: string;
  namespace?: string;
  byRoute: boolean;
  window: string;
}

export function fetchStats(config: MeshctlConfig, address: string, query: StatsRequest): Promise<StatsReport> {
  const params = new URLSearchParams({ window: query.window });
  if (query.service) params.set('service', query.service);
  if (query.namespace) params.set('namespace', query.namespace);
  if (query.byRoute) params.set('by-route', 'true');
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request({ ...tlsOptions(config), host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)), path: `/v1/stats?${params.toString()}`, method: 'GET', timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) return reject(new StreamApiError('refused', `${res.statusCode ?? 0} ${text.trim()}`));
        try {
          resolve(JSON.parse(text) as StatsReport);
        } catch (error) {
          reject(new StreamApiError('closed', `the stream server sent no JSON: ${(error as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => reject(new StreamApiError('unreachable', `cannot reach the stream server at ${address}: ${error.message}`)));
    req.end();
  });
}
