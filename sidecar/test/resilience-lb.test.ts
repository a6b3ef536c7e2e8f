// Load balancers: registry and config parsing, exclude/avoid fallbacks, round-robin fairness, p2c-EWMA preferences.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ServiceEndpoint } from '../src/discovery/endpoint-resolver.js';
import { createLoadBalancer, parseLoadBalancerConfig, registerLoadBalancer, registeredLoadBalancers } from '../src/resilience/lb-registry.js';
import { P2cEwmaBalancer } from '../src/resilience/lb-p2c-ewma.js';
import { RoundRobinBalancer } from '../src/resilience/lb-round-robin.js';
import type { LoadBalancer } from '../src/resilience/lb-types.js';
import { ok } from '@tsmesh/proto';

function endpoint(address: string): ServiceEndpoint {
  return { address, identity: `spiffe://mesh/${address}`, nodeId: address };
}

function endpoints(n: number): ServiceEndpoint[] {
  return Array.from({ length: n }, (_, i) => endpoint(`10.0.0.${i}:4143`));
}

// mulberry32: a seeded source so statistical tests give the same answer every run.
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mustCreate(name: string, config: unknown, random: () => number, now: () => number = () => 0): LoadBalancer {
  const created = createLoadBalancer(name, config, { random, now });
  if (!created.ok) throw new Error(created.error.message);
  return created.value;
}

describe('load balancer registry', () => {
  it('has round-robin and p2c-ewma built in', () => {
    expect(registeredLoadBalancers()).toEqual(expect.arrayContaining(['round-robin', 'p2c-ewma']));
    expect(createLoadBalancer('round-robin', {}).ok).toBe(true);
    expect(createLoadBalancer('p2c-ewma', { decayMs: 5_000, defaultRttMs: 50 }).ok).toBe(true);
  });

  it('names the unknown balancer and the bad field', () => {
    expect(createLoadBalancer('least-request', {})).toEqual({ ok: false, error: { kind: 'unknown-load-balancer', message: expect.stringContaining('least-request') } });
    const bad = parseLoadBalancerConfig('p2c-ewma', { decayMs: -1 });
    expect(bad).toEqual({ ok: false, error: { kind: 'invalid-config', message: expect.stringContaining('decayMs') } });
    expect(parseLoadBalancerConfig('p2c-ewma', { decay: 5 })).toEqual({ ok: false, error: { kind: 'invalid-config', message: expect.stringContaining('decay: unknown field') } });
    expect(parseLoadBalancerConfig('round-robin', [1])).toEqual({ ok: false, error: { kind: 'invalid-config', message: expect.stringContaining('must be an object') } });
  });

  it('accepts a custom balancer with its own parser, once', () => {
    const first: LoadBalancer = { pick: (list) => (list[0] ? { endpoint: list[0], done: () => {} } : undefined) };
    registerLoadBalancer<{ unused: true }>('test-first', { parseConfig: () => ok({ unused: true }), create: () => first });
    const created = createLoadBalancer('test-first', undefined);
    expect(created.ok && created.value).toBe(first);
    expect(() => registerLoadBalancer('test-first', { parseConfig: () => ok({}), create: () => first })).toThrow(/already registered/);
  });
});

describe.each(['round-robin', 'p2c-ewma'])('%s exclude and avoid', (name) => {
  it('never picks an excluded or avoided endpoint when an alternative exists', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 7 })),
        fc.array(fc.integer({ min: 0, max: 7 })),
        fc.integer(),
        (n, excludedIdx, avoidedIdx, seed) => {
          const list = endpoints(n);
          const excluded = new Set(excludedIdx.filter((i) => i < n).map((i) => list[i]?.address));
          const avoid = new Set(avoidedIdx.filter((i) => i < n).map((i) => list[i]?.address ?? ''));
          const lb = mustCreate(name, {}, seeded(seed));
          for (let k = 0; k < 10; k++) {
            const pick = lb.pick(list, { avoid, exclude: (e) => excluded.has(e.address) });
            if (pick === undefined) throw new Error('no pick from a non-empty list');
            const address = pick.endpoint.address;
            const usable = list.filter((e) => !excluded.has(e.address));
            const fresh = usable.filter((e) => !avoid.has(e.address));
            if (fresh.length > 0) expect(fresh.map((e) => e.address)).toContain(address);
            else if (usable.length > 0) expect(usable.map((e) => e.address)).toContain(address);
            else if (list.some((e) => !avoid.has(e.address))) expect(avoid.has(address)).toBe(false);
            pick.done({ ok: true, rttMs: 5 });
          }
        },
      ),
    );
  });

  it('returns undefined for no endpoints', () => {
    expect(mustCreate(name, {}, seeded(1)).pick([])).toBeUndefined();
  });
});

describe('round robin', () => {
  it('gives each endpoint exactly its share, from any starting point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (n, rounds, start) => {
        const list = endpoints(n);
        const lb = new RoundRobinBalancer(() => start);
        const counts = new Map<string, number>();
        for (let i = 0; i < n * rounds; i++) {
          const address = lb.pick(list)?.endpoint.address ?? 'none';
          counts.set(address, (counts.get(address) ?? 0) + 1);
        }
        expect([...counts.values()]).toEqual(Array.from({ length: n }, () => rounds));
      }),
    );
  });
});

describe('p2c over peak EWMA', () => {
  // Endpoints answering at their latency for a while, on a clock that moves 100 ms per pick, from a 100 ms default.
  function warmed(latencies: number[], seed = 7): { lb: P2cEwmaBalancer; list: ServiceEndpoint[] } {
    const list = endpoints(latencies.length);
    const latency = new Map(list.map((e, i) => [e.address, latencies[i] ?? 0]));
    let t = 0;
    const lb = new P2cEwmaBalancer({ defaultRttMs: 100, decayMs: 1_000 }, { random: seeded(seed), now: () => t });
    for (let i = 0; i < 400; i++) {
      t += 100;
      const pick = lb.pick(list);
      pick?.done({ ok: true, rttMs: latency.get(pick.endpoint.address) ?? 0 });
    }
    for (const s of lb.snapshot()) expect(s.estimateMs).toBeLessThan((latency.get(s.address) ?? 0) + 1);
    return { lb, list };
  }

  it('prefers lower cost in proportion to how often it wins a pair', () => {
    const list = endpoints(4);
    const latency = new Map(list.map((e, i) => [e.address, 10 * 2 ** i]));
    const lb = new P2cEwmaBalancer({ defaultRttMs: 1 }, { random: seeded(42), now: () => 0 });
    // A default below every real latency means the first answer of each endpoint replaces it (a peak).
    for (const e of list) lb.pick([e])?.done({ ok: true, rttMs: latency.get(e.address) ?? 0 });
    const counts = list.map(() => 0);
    const picks = 6_000;
    for (let i = 0; i < picks; i++) {
      const pick = lb.pick(list);
      if (!pick) throw new Error('no pick');
      const index = list.indexOf(pick.endpoint);
      counts[index] = (counts[index] ?? 0) + 1;
      pick.done({ ok: true, rttMs: latency.get(pick.endpoint.address) ?? 0 });
    }
    // With no load, the fastest wins every pair it is in (3 of 6 pairs), the next 2 of 6, then 1 of 6, the slowest none.
    const shares = counts.map((c) => c / picks);
    expect(shares[0]).toBeCloseTo(3 / 6, 1);
    expect(shares[1]).toBeCloseTo(2 / 6, 1);
    expect(shares[2]).toBeCloseTo(1 / 6, 1);
    expect(shares[3]).toBe(0);
  });

  it('spreads in-flight work: pending requests raise an endpoint cost', () => {
    const list = [endpoint('fast:1'), endpoint('slow:1')];
    const lb = new P2cEwmaBalancer({ defaultRttMs: 1 }, { random: seeded(3), now: () => 0 });
    lb.pick([list[0] as ServiceEndpoint])?.done({ ok: true, rttMs: 10 });
    lb.pick([list[1] as ServiceEndpoint])?.done({ ok: true, rttMs: 47 });
    const held = Array.from({ length: 12 }, () => lb.pick(list));
    const toSlow = held.filter((p) => p?.endpoint.address === 'slow:1').length;
    // fast costs 10 x (pending + 1): 4 go fast before slow (47) is cheaper, then 5 fast per slow (94 each).
    expect(toSlow).toBe(2);
    for (const p of held) p?.done({ ok: true, rttMs: 10 });
    expect(lb.snapshot().map((s) => s.pending)).toEqual([0, 0]);
  });

  it('does not flood a new endpoint: pessimistic at first, then one probe at a time until it answers', () => {
    let t = 0;
    const list = [endpoint('old-a:1'), endpoint('old-b:1')];
    const lb = new P2cEwmaBalancer({ defaultRttMs: 100, decayMs: 10_000 }, { random: seeded(5), now: () => t });
    for (const e of list) lb.pick([e])?.done({ ok: true, rttMs: 200 });
    t += 60_000;
    // Old endpoints answer in 10 ms now; busy, their idle decay never applies.
    const newcomer = endpoint('new:1');
    const withNew = [...list, newcomer];
    let toNew = 0;
    for (let i = 0; i < 2_000; i++) {
      t += 5;
      const pick = lb.pick(withNew);
      if (pick?.endpoint === newcomer) toNew++;
      else pick?.done({ ok: true, rttMs: 10 });
    }
    // Its cost decays while idle until it beats the 10 ms endpoints (~23 s at a 10 s decay); the probe it then gets
    // is never answered here, so it stays at one request in flight instead of attracting every pick.
    expect(toNew).toBe(0);
    t += 30_000;
    for (let i = 0; i < 2_000; i++) {
      t += 5;
      const pick = lb.pick(withNew);
      if (pick?.endpoint === newcomer) toNew++;
      else pick?.done({ ok: true, rttMs: 10 });
    }
    expect(toNew).toBe(1);
  });

  it('counts done once, and a fast failure does not make an endpoint look cheap', () => {
    const { lb, list } = warmed([40, 40]);
    const pick = lb.pick(list);
    if (!pick) throw new Error('no pick');
    const before = lb.snapshot().find((s) => s.address === pick.endpoint.address)?.estimateMs ?? 0;
    pick.done({ ok: false, rttMs: 1 });
    pick.done({ ok: false, rttMs: 1 });
    const after = lb.snapshot().find((s) => s.address === pick.endpoint.address);
    expect(after?.pending).toBe(0);
    expect(after?.estimateMs).toBe(before);
  });

  it('drops state of addresses gone for a while, but not while requests are in flight', () => {
    let t = 0;
    const lb = new P2cEwmaBalancer({ forgetAfterMs: 1_000 }, { random: seeded(9), now: () => t });
    const [a, b, c] = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
    lb.pick([a])?.done({ ok: true, rttMs: 5 });
    const inFlight = lb.pick([b]);
    t = 1_000;
    lb.pick([c])?.done({ ok: true, rttMs: 5 });
    expect(lb.snapshot().map((s) => s.address).sort()).toEqual(['b:1', 'c:1']);
    inFlight?.done({ ok: true, rttMs: 5 });
    t = 2_500;
    lb.pick([c])?.done({ ok: true, rttMs: 5 });
    expect(lb.snapshot().map((s) => s.address)).toEqual(['c:1']);
  });
});
