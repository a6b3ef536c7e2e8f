// The example shop: shop -> orders -> (payments, inventory), each a tiny HTTP service behind a sidecar.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { callThroughProxy } from './mesh-http.js';

export const EXAMPLE_NAMESPACE = 'demo';
export const EXAMPLE_SERVICES = ['shop', 'orders', 'payments', 'inventory'] as const;
export type ExampleService = (typeof EXAMPLE_SERVICES)[number];

type Handler = (req: http.IncomingMessage, body: string, proxy: string) => Promise<{ status: number; body: unknown }>;

// Apps in a mesh pass the trace context on (as Istio's bookinfo does), so one request is one trace.
function traceHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate']) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

const caller = (req: http.IncomingMessage): string => String(req.headers['x-mesh-peer-identity'] ?? 'unknown');

const handlers: Record<ExampleService, Handler> = {
  async shop(req, _body, proxy) {
    const url = new URL(req.url ?? '/', 'http://shop');
    if (url.pathname !== '/buy') return { status: 200, body: { service: 'shop', try: '/buy?item=teapot' } };
    const item = url.searchParams.get('item') ?? 'teapot';
    const order = await callThroughProxy(proxy, `http://orders.${EXAMPLE_NAMESPACE}/orders`, { body: { item, quantity: 1 }, headers: traceHeaders(req) });
    return { status: order.status === 201 ? 200 : 502, body: { service: 'shop', caller: caller(req), order: safeJson(order.body), upstreamStatus: order.status } };
  },
  async orders(req, body, proxy) {
    if (req.method !== 'POST') return { status: 405, body: { error: 'POST /orders' } };
    const request = safeJson(body) as { item?: string; quantity?: number };
    const [payment, reservation] = await Promise.all([
      callThroughProxy(proxy, `http://payments.${EXAMPLE_NAMESPACE}/charge`, { body: { amount: 12.5, item: request.item }, headers: traceHeaders(req) }),
      callThroughProxy(proxy, `http://inventory.${EXAMPLE_NAMESPACE}/reserve`, { body: { item: request.item, quantity: request.quantity ?? 1 }, headers: traceHeaders(req) }),
    ]);
    const okay = payment.status === 200 && reservation.status === 200;
    return { status: okay ? 201 : 502, body: { service: 'orders', caller: caller(req), orderId: randomUUID(), payment: safeJson(payment.body), reservation: safeJson(reservation.body) } };
  },
  async payments(req, body) {
    const request = safeJson(body) as { amount?: number };
    return { status: 200, body: { service: 'payments', caller: caller(req), charged: request.amount ?? 0 } };
  },
  async inventory(req, body) {
    const request = safeJson(body) as { item?: string; quantity?: number };
    return { status: 200, body: { service: 'inventory', caller: caller(req), reserved: request.quantity ?? 1, item: request.item ?? null } };
  },
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function createExampleServer(name: ExampleService, proxy: string): http.Server {
  const handler = handlers[name];
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handler(req, Buffer.concat(chunks).toString('utf8'), proxy).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(`${JSON.stringify(body)}\n`);
        },
        (error: unknown) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(`${JSON.stringify({ service: name, error: (error as Error).message })}\n`);
        },
      );
    });
  });
}
