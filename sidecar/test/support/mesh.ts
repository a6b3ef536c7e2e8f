// Test harness for the data plane: local apps, a static resolver, a capturing logger, and cleanup in one place.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ok, err, type Logger } from '@tsmesh/proto';
import type { EndpointResolver, ServiceEndpoint, ServiceName } from '../../src/discovery/endpoint-resolver.js';
import { serviceKey } from '../../src/discovery/endpoint-resolver.js';

// The test's input in place of discovery: a fixed table; a service listed with [] has no endpoints.
export function staticResolver(table: Record<string, ServiceEndpoint[]>): EndpointResolver {
  return {
    resolve: (service: ServiceName) => {
      const endpoints = table[serviceKey(service)];
      if (endpoints === undefined) return Promise.resolve(err({ kind: 'unknown-service' as const, message: `${serviceKey(service)} is not in the test table` }));
      if (endpoints.length === 0) return Promise.resolve(err({ kind: 'no-endpoints' as const, message: 'test table lists none' }));
      return Promise.resolve(ok(endpoints));
    },
  };
}

export interface LogRecord {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

export function captureLogger(records: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    records.push({ level, message, fields });
  };
  const logger: Logger & { records: LogRecord[] } = {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

// Resources a test opened; closed in reverse order by afterEach.
export class Cleanup {
  private readonly steps: Array<() => Promise<void> | void> = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) await this.steps.pop()?.();
  }
}

export async function startApp(cleanup: Cleanup, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { server, port: (server.address() as AddressInfo).port };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

// A plain HTTP/1.1 request to a listener; `path` may be absolute-form (proxy style).
export function send(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
