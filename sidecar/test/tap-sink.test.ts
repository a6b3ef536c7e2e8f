// The tap sink: which requests a tap sees, headers only when asked (credentials redacted), the rate bound on an injected clock.
import { describe, expect, it } from 'vitest';
import { TapSink, type TapRecord } from '../src/tap/sink.js';
import type { SidecarMessage, TapEvent } from '../src/tap/protocol.js';

const ORDERS = 'orders.shop';

function record(overrides: Partial<TapRecord> = {}): TapRecord {
  return { direction: 'inbound', method: 'GET', path: '/orders/7', authority: ORDERS, status: 200, latencyMs: 2.5, source: 'spiffe://cluster.local/ns/shop/sa/web', destination: ORDERS, traceId: 'abc', refusal: null, headers: { ':path': '/orders/7', accept: 'application/json', authorization: 'Bearer secret', 'x-count': 3 }, ...overrides };
}

function sink(options: { clock?: { t: number }; sendable?: () => boolean } = {}): { sink: TapSink; sent: Array<Extract<SidecarMessage, { type: 'tap-events' }>> } {
  const sent: Array<Extract<SidecarMessage, { type: 'tap-events' }>> = [];
  const clock = options.clock;
  const s = new TapSink({ localService: ORDERS, ratePerSecond: 100, ...(clock ? { now: () => clock.t } : {}) });
  s.attach((m) => {
    if (options.sendable && !options.sendable()) return false;
    if (m.type === 'tap-events') sent.push(m);
    return true;
  });
  return { sink: s, sent };
}

const events = (sent: Array<{ events: TapEvent[] }>): TapEvent[] => sent.flatMap((m) => m.events);

describe('tap sink', () => {
  it('is inactive, and records nothing, until a tap starts, and again after it stops', () => {
    const { sink: s, sent } = sink();
    expect(s.active).toBe(false);
    s.start('t1', { service: 'orders', namespace: 'shop', headers: false });
    expect(s.active).toBe(true);
    s.stop('t1');
    expect(s.active).toBe(false);
    s.record(record());
    s.flush();
    expect(sent).toEqual([]);
  });

  it("sees the service's inbound requests and its callers' outbound ones, filtered by path prefix and method", () => {
    const { sink: s, sent } = sink();
    s.start('t1', { service: 'orders', namespace: 'shop', path: '/orders', method: 'GET', headers: false });
    s.record(record());
    s.record(record({ direction: 'outbound', destination: ORDERS, path: '/orders/8' }));
    s.record(record({ direction: 'outbound', destination: 'payments.shop' }));
    s.record(record({ path: '/health' }));
    s.record(record({ method: 'POST' }));
    s.flush();
    expect(events(sent).map((e) => `${e.direction} ${e.path}`)).toEqual(['inbound /orders/7', 'outbound /orders/8']);
    expect(events(sent)[0]).toEqual({ time: expect.any(String), direction: 'inbound', method: 'GET', path: '/orders/7', authority: ORDERS, status: 200, latencyMs: 2.5, source: 'spiffe://cluster.local/ns/shop/sa/web', destination: ORDERS, traceId: 'abc' });
  });

  it('includes request headers only for a tap that asked, without pseudo-headers and with credentials redacted', () => {
    const { sink: s, sent } = sink();
    s.start('plain', { service: 'orders', namespace: 'shop', headers: false });
    s.start('with-headers', { service: 'orders', namespace: 'shop', headers: true });
    s.record(record({ refusal: 'MESH_ERR_FORBIDDEN', status: 403 }));
    s.flush();
    const byTap = new Map(sent.map((m) => [m.tapId, m.events[0]]));
    expect(byTap.get('plain')).not.toHaveProperty('headers');
    expect(byTap.get('plain')?.refusal).toBe('MESH_ERR_FORBIDDEN');
    expect(byTap.get('with-headers')?.headers).toEqual({ accept: 'application/json', authorization: '[redacted]', 'x-count': '3' });
  });

  it('sends at most 100 events a second and reports the rest as dropped', () => {
    const clock = { t: 0 };
    const { sink: s, sent } = sink({ clock });
    s.start('t1', { service: 'orders', namespace: 'shop', headers: false });
    for (let i = 0; i < 250; i++) s.record(record());
    s.flush();
    expect(events(sent)).toHaveLength(100);
    expect(sent.at(-1)?.dropped).toBe(150);
    clock.t += 500;
    for (let i = 0; i < 100; i++) s.record(record());
    s.flush();
    expect(events(sent)).toHaveLength(150);
    expect(sent.at(-1)?.dropped).toBe(50);
  });

  it('counts a batch the stream could not take as dropped, and reports it with the next one', () => {
    let up = false;
    const { sink: s, sent } = sink({ sendable: () => up });
    s.start('t1', { service: 'orders', namespace: 'shop', headers: false });
    s.record(record());
    s.record(record());
    s.flush();
    expect(sent).toEqual([]);
    up = true;
    s.record(record());
    s.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.events).toHaveLength(1);
    expect(sent[0]!.dropped).toBe(2);
  });
});
