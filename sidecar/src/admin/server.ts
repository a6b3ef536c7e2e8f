// The sidecar's local admin endpoint: liveness, readiness, its certificate and its effective config.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { certificateInfo, splitPemBundle } from '@tsmesh/proto';
import type { TlsMaterialSource } from '../identity/tls-material.js';

export interface AdminState {
  tls: () => TlsMaterialSource | undefined;
  ready: () => { ready: boolean; reason: string };
  configDump: () => unknown;
  rotations: () => number;
  metrics: () => { contentType: string; body: string };
  stats: () => unknown;
}

export async function startAdminServer(host: string, port: number, state: AdminState): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/live':
        return send(200, 'live\n');
      case '/ready': {
        const { ready, reason } = state.ready();
        return send(ready ? 200 : 503, `${reason}\n`);
      }
      case '/certs': {
        const material = state.tls()?.current();
        if (!material) return send(503, 'no certificate yet\n');
        const chain = splitPemBundle(material.certChainPem).map((pem) => {
          const info = certificateInfo(pem);
          return { ...info, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString() };
        });
        return send(200, { spiffeId: material.spiffeId, rotations: state.rotations(), chain, trustBundle: material.trustBundlePem.map((pem) => certificateInfo(pem).subject) });
      }
      case '/config_dump':
        return send(200, state.configDump());
      case '/metrics': {
        const metrics = state.metrics();
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(metrics.body);
        return;
      }
      case '/stats':
        return send(200, state.stats());
      default:
        return send(404, 'try /ready, /live, /metrics, /stats, /certs or /config_dump\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
