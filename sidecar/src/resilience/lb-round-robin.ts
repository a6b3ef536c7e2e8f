// Round robin over the usable endpoints, starting at a random offset so sidecars do not move in lockstep.
import { err, ok } from '@tsmesh/proto';
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';
import { candidates, checkNoFields } from './lb-candidates.js';
import type { LoadBalancer, LoadBalancerFactory, Pick, PickOptions } from './lb-types.js';

export type RoundRobinConfig = Record<string, never>;

const noop = (): void => {};

export class RoundRobinBalancer implements LoadBalancer {
  private cursor: number;

  constructor(random: () => number = Math.random) {
    this.cursor = Math.floor(random() * 0x7fffffff);
  }

  pick(endpoints: readonly ServiceEndpoint[], opts?: PickOptions): Pick | undefined {
    const list = candidates(endpoints, opts);
    const endpoint = list[this.cursor % list.length];
    if (endpoint === undefined) return undefined;
    this.cursor = this.cursor >= 0x7fffffff ? 0 : this.cursor + 1;
    return { endpoint, done: noop };
  }
}

export const roundRobinFactory: LoadBalancerFactory<RoundRobinConfig> = {
  parseConfig(raw) {
    const problem = checkNoFields(raw, []);
    return problem === undefined ? ok({}) : err(problem);
  },
  create(_config, deps) {
    return new RoundRobinBalancer(deps.random);
  },
};
