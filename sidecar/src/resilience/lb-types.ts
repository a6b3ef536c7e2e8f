// The load balancer contract: pick one endpoint of a destination per attempt, and hear back how it went.
import type { Result } from '@tsmesh/proto';
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';

export interface PickResult {
  ok: boolean;
  rttMs: number;
}

export interface Pick {
  endpoint: ServiceEndpoint;
  // Call exactly once when the attempt ends (later calls are ignored); balancers that track load need it.
  done(result: PickResult): void;
}

export interface PickOptions {
  // Endpoint addresses to avoid (e.g. the one that just failed); used only if nothing else is left.
  avoid?: ReadonlySet<string>;
  // Ejected endpoints; used only if every endpoint is excluded (Envoy's panic mode: some traffic beats none).
  exclude?: (endpoint: ServiceEndpoint) => boolean;
}

// One instance per destination: per-endpoint state is keyed by address and swept against the lists it is given.
export interface LoadBalancer {
  pick(endpoints: readonly ServiceEndpoint[], opts?: PickOptions): Pick | undefined;
}

export interface LoadBalancerDeps {
  now: () => number;
  random: () => number;
}

export interface LoadBalancerFactory<C> {
  // Messages name the offending field, e.g. `decayMs: must be a number > 0, got "x"`.
  parseConfig(raw: unknown): Result<C, string>;
  create(config: C, deps: LoadBalancerDeps): LoadBalancer;
}
