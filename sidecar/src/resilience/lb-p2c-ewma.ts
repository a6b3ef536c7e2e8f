// Power of two choices over peak-EWMA cost (Linkerd): sample two endpoints, send to the one with less latency x load.
import { err, ok } from '@tsmesh/proto';
import type { Result } from '@tsmesh/proto';
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';
import { PeakEwma } from './ewma.js';
import { candidates, checkNoFields } from './lb-candidates.js';
import type { LoadBalancer, LoadBalancerDeps, LoadBalancerFactory, Pick, PickOptions, PickResult } from './lb-types.js';

export interface P2cEwmaConfig {
  decayMs: number;
  defaultRttMs: number;
  // State of an address not seen in the endpoint lists for this long (and with nothing in flight) is dropped.
  forgetAfterMs: number;
}

export const P2C_EWMA_DEFAULTS: P2cEwmaConfig = { decayMs: 10_000, defaultRttMs: 100, forgetAfterMs: 60_000 };

interface EndpointLoad {
  readonly ewma: PeakEwma;
  pending: number;
  seenAt: number;
}

export class P2cEwmaBalancer implements LoadBalancer {
  private readonly loads = new Map<string, EndpointLoad>();
  private readonly config: P2cEwmaConfig;
  private readonly now: () => number;
  private readonly random: () => number;
  private lastSweep: number;

  constructor(config: Partial<P2cEwmaConfig> = {}, deps: Partial<LoadBalancerDeps> = {}) {
    this.config = { ...P2C_EWMA_DEFAULTS, ...config };
    this.now = deps.now ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
    this.lastSweep = this.now();
  }

  pick(endpoints: readonly ServiceEndpoint[], opts?: PickOptions): Pick | undefined {
    if (endpoints.length === 0) return undefined;
    const now = this.now();
    if (now - this.lastSweep >= this.config.forgetAfterMs) this.sweep(endpoints, now);
    const list = candidates(endpoints, opts);
    let endpoint: ServiceEndpoint | undefined;
    let load: EndpointLoad;
    if (list.length === 1) {
      endpoint = list[0];
      if (endpoint === undefined) return undefined;
      load = this.load(endpoint.address, now);
    } else {
      const i = this.index(list.length);
      // Drawing from n - 1 and skipping i keeps the two choices distinct without a retry loop.
      let j = this.index(list.length - 1);
      if (j >= i) j++;
      const a = list[i];
      const b = list[j];
      if (a === undefined || b === undefined) return undefined;
      const loadA = this.load(a.address, now);
      const loadB = this.load(b.address, now);
      const pickB = loadB.ewma.cost(loadB.pending) < loadA.ewma.cost(loadA.pending);
      endpoint = pickB ? b : a;
      load = pickB ? loadB : loadA;
    }
    load.pending++;
    let finished = false;
    return {
      endpoint,
      done: (result: PickResult) => {
        if (finished) return;
        finished = true;
        load.pending--;
        // A fast failure (refused connect) must not make a broken endpoint look cheap and attract traffic.
        load.ewma.observe(result.ok ? result.rttMs : Math.max(result.rttMs, load.ewma.estimate()));
      },
    };
  }

  // For stats: the estimate and in-flight count of every endpoint with state.
  snapshot(): Array<{ address: string; estimateMs: number; pending: number }> {
    return [...this.loads].map(([address, load]) => ({ address, estimateMs: load.ewma.estimate(), pending: load.pending }));
  }

  private index(n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n));
  }

  private load(address: string, now: number): EndpointLoad {
    let load = this.loads.get(address);
    if (load === undefined) {
      load = { ewma: new PeakEwma({ decayMs: this.config.decayMs, defaultRttMs: this.config.defaultRttMs, now: this.now }), pending: 0, seenAt: now };
      this.loads.set(address, load);
    } else {
      load.seenAt = now;
    }
    return load;
  }

  // Runs at most once per forgetAfterMs, so its O(n) is amortised over the picks in between.
  private sweep(endpoints: readonly ServiceEndpoint[], now: number): void {
    this.lastSweep = now;
    for (const endpoint of endpoints) {
      const load = this.loads.get(endpoint.address);
      if (load) load.seenAt = now;
    }
    for (const [address, load] of this.loads) {
      if (load.pending === 0 && now - load.seenAt >= this.config.forgetAfterMs) this.loads.delete(address);
    }
  }
}

function positiveNumber(source: Record<string, unknown>, field: keyof P2cEwmaConfig): Result<number, string> {
  const value = source[field];
  if (value === undefined) return ok(P2C_EWMA_DEFAULTS[field]);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return err(`${field}: must be a number > 0, got ${JSON.stringify(value)}`);
  return ok(value);
}

export const p2cEwmaFactory: LoadBalancerFactory<P2cEwmaConfig> = {
  parseConfig(raw) {
    const problem = checkNoFields(raw, ['decayMs', 'defaultRttMs', 'forgetAfterMs']);
    if (problem !== undefined) return err(problem);
    const source = (raw ?? {}) as Record<string, unknown>;
    const decayMs = positiveNumber(source, 'decayMs');
    if (!decayMs.ok) return decayMs;
    const defaultRttMs = positiveNumber(source, 'defaultRttMs');
    if (!defaultRttMs.ok) return defaultRttMs;
    const forgetAfterMs = positiveNumber(source, 'forgetAfterMs');
    if (!forgetAfterMs.ok) return forgetAfterMs;
    return ok({ decayMs: decayMs.value, defaultRttMs: defaultRttMs.value, forgetAfterMs: forgetAfterMs.value });
  },
  create(config, deps) {
    return new P2cEwmaBalancer(config, deps);
  },
};
