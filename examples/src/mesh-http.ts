// How the example apps call each other: plain HTTP through their sidecar, as an HTTP proxy would be used.
import http from 'node:http';

export interface MeshResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// Sends `url` (e.g. http://orders.demo/orders) in absolute form to the proxy at HTTP_PROXY.
export function callThroughProxy(proxy: string, url: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<MeshResponse> {
  const proxyUrl = new URL(proxy);
  const target = new URL(url);
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: proxyUrl.hostname,
      port: proxyUrl.port,
      method: init.method ?? (payload ? 'POST' : 'GET'),
      path: target.href,
      agent,
      headers: { host: target.host, ...(payload ? { 'content-type': 'application/json' } : {}), ...init.headers },
      timeout: init.timeoutMs ?? 20_000,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${init.timeoutMs ?? 20_000} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(payload);
  });
}
