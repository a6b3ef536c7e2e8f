// Load balancers by name, each with its own config parser (as grpc-js registerLoadBalancerType); built-ins pre-registered.
import { err, ok } from '@tsmesh/proto';
import type { Result } from '@tsmesh/proto';
import { p2cEwmaFactory } from './lb-p2c-ewma.js';
import { roundRobinFactory } from './lb-round-robin.js';
import type { LoadBalancer, LoadBalancerDeps, LoadBalancerFactory } from './lb-types.js';

export type LoadBalancerConfigError = { kind: 'unknown-load-balancer' | 'invalid-config'; message: string };

// A validated config, ready to build a balancer per destination; parsing happens once, at the config boundary.
export interface LoadBalancerSpec {
  readonly name: string;
  create(deps?: Partial<LoadBalancerDeps>): LoadBalancer;
}

type Parser = (raw: unknown) => Result<(deps: LoadBalancerDeps) => LoadBalancer, string>;

const parsers = new Map<string, Parser>();

export function registerLoadBalancer<C>(name: string, factory: LoadBalancerFactory<C>): void {
  if (parsers.has(name)) throw new Error(`load balancer "${name}" is already registered`);
  parsers.set(name, (raw) => {
    const parsed = factory.parseConfig(raw);
    return parsed.ok ? ok((deps: LoadBalancerDeps) => factory.create(parsed.value, deps)) : parsed;
  });
}

export function registeredLoadBalancers(): string[] {
  return [...parsers.keys()];
}

export function parseLoadBalancerConfig(name: string, raw: unknown): Result<LoadBalancerSpec, LoadBalancerConfigError> {
  const parser = parsers.get(name);
  if (parser === undefined) return err({ kind: 'unknown-load-balancer', message: `load balancer "${name}" is not registered (known: ${registeredLoadBalancers().join(', ')})` });
  const parsed = parser(raw);
  if (!parsed.ok) return err({ kind: 'invalid-config', message: `load balancer "${name}": ${parsed.error}` });
  const build = parsed.value;
  return ok({ name, create: (deps = {}) => build({ now: deps.now ?? (() => performance.now()), random: deps.random ?? Math.random }) });
}

export function createLoadBalancer(name: string, config: unknown, deps?: Partial<LoadBalancerDeps>): Result<LoadBalancer, LoadBalancerConfigError> {
  const spec = parseLoadBalancerConfig(name, config);
  return spec.ok ? ok(spec.value.create(deps)) : spec;
}

registerLoadBalancer('round-robin', roundRobinFactory);
registerLoadBalancer('p2c-ewma', p2cEwmaFactory);
