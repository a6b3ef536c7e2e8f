// Compiles a service's HTTPRoutes into an ordered table of matchers, most specific first (Gateway API order).
import { durationMs } from '../resources/common.js';
import type { HTTPRouteResource } from '../resources/validate.js';
import type { ServiceRoutes } from '../resources/pushed.js';
import { DEFAULT_RETRY, type FaultPlan, type RetryCondition, type RetryPlan, type RoutePlan, type ServiceRef } from './route-plan.js';

type Rule = HTTPRouteResource['spec']['rules'][number];
type Match = NonNullable<Rule['matches']>[number];

export interface RequestView {
  method: string;
  path: string;
  header(name: string): string | undefined;
}

interface CompiledMatch {
  test(request: RequestView): boolean;
  // Exact path > longer prefix > regex > method > more header matches, then declaration order.
  specificity: [number, number, number, number];
  plan: RoutePlan;
  order: number;
}

export interface RouteTable {
  select(request: RequestView): RoutePlan | undefined;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function compileMatch(match: Match | undefined): { test: (r: RequestView) => boolean; specificity: [number, number, number, number] } {
  const tests: Array<(r: RequestView) => boolean> = [];
  let pathKind = 0;
  let pathLength = 1;
  const path = match?.path;
  if (path) {
    if (path.type === 'Exact') {
      pathKind = 3;
      tests.push((r) => pathOnly(r.path) === path.value);
    } else if (path.type === 'PathPrefix') {
      pathKind = 2;
      // Prefixes match whole segments: /api matches /api and /api/x, not /apix.
      const prefix = path.value.endsWith('/') ? path.value.slice(0, -1) : path.value;
      tests.push((r) => {
        const p = pathOnly(r.path);
        return prefix === '' || p === prefix || p.startsWith(`${prefix}/`);
      });
    } else {
      pathKind = 1;
      const regex = new RegExp(`^(?:${path.value})$`);
      tests.push((r) => regex.test(pathOnly(r.path)));
    }
    pathLength = path.value.length;
  }
  if (match?.method) {
    const method = match.method;
    tests.push((r) => r.method === method);
  }
  for (const header of match?.headers ?? []) {
    const name = header.name.toLowerCase();
    const type = header.type ?? 'Exact';
    if (type === 'Present') tests.push((r) => r.header(name) !== undefined);
    else if (type === 'Exact') tests.push((r) => r.header(name) === header.value);
    else {
      const regex = new RegExp(header.value ?? '');
      tests.push((r) => regex.test(r.header(name) ?? ''));
    }
  }
  return { test: (r) => tests.every((t) => t(r)), specificity: [pathKind, pathLength, match?.method ? 1 : 0, match?.headers?.length ?? 0] };
}

function retryPlan(rule: Rule): RetryPlan {
  const retries = rule.retries;
  if (!retries) return DEFAULT_RETRY;
  const on = new Set<RetryCondition>((retries.on ?? ['connect-failure', 'refused-stream', '503']).map((c) => (/^\d{3}$/.test(c) ? Number(c) : (c as RetryCondition))));
  return {
    retries: retries.attempts,
    on,
    backoffBaseMs: retries.backoff ? durationMs(retries.backoff.base) : DEFAULT_RETRY.backoffBaseMs,
    backoffMaxMs: retries.backoff ? durationMs(retries.backoff.max) : DEFAULT_RETRY.backoffMaxMs,
    retryNonIdempotent: retries.retryNonIdempotent ?? false,
  };
}

function faultPlan(rule: Rule): FaultPlan | null {
  const fault = rule.fault;
  if (!fault) return null;
  return {
    ...(fault.delay ? { delay: { percent: fault.delay.percent, ms: durationMs(fault.delay.duration) } } : {}),
    ...(fault.abort ? { abort: { percent: fault.abort.percent, status: fault.abort.status } } : {}),
  };
}

function planFor(route: HTTPRouteResource, rule: Rule, index: number, self: ServiceRef): RoutePlan {
  const perTry = rule.timeouts?.perTry ?? rule.retries?.perTryTimeout;
  return {
    name: `${route.metadata.namespace}/${route.metadata.name}#${rule.name ?? index}`,
    backends: (rule.backends ?? [{ service: self.name }]).map((b) => ({ service: { name: b.service, namespace: b.namespace ?? self.namespace }, weight: b.weight ?? 1 })).filter((b) => b.weight > 0),
    requestTimeoutMs: rule.timeouts?.request ? durationMs(rule.timeouts.request) : null,
    perTryTimeoutMs: perTry ? durationMs(perTry) : null,
    retry: retryPlan(rule),
    fault: faultPlan(rule),
  };
}

export function defaultPlan(service: ServiceRef): RoutePlan {
  return { name: 'default', backends: [{ service, weight: 1 }], requestTimeoutMs: null, perTryTimeoutMs: null, retry: DEFAULT_RETRY, fault: null };
}

function compare(a: CompiledMatch, b: CompiledMatch): number {
  for (let i = 0; i < 4; i++) {
    const d = (b.specificity[i] ?? 0) - (a.specificity[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.order - b.order;
}

const tables = new WeakMap<ServiceRoutes, RouteTable>();

// Compiled once per pushed ServiceRoutes object; a new push is a new object and recompiles.
export function routeTable(routes: ServiceRoutes): RouteTable {
  const cached = tables.get(routes);
  if (cached) return cached;
  const self: ServiceRef = { name: routes.service, namespace: routes.namespace };
  const entries: CompiledMatch[] = [];
  let order = 0;
  // Code-point order, as Gateway API implementations break ties by name: names are DNS labels, where it is also
  // what localeCompare gives, but localeCompare loads ICU's collation data into every sidecar (~2 MB resident).
  const sorted = [...routes.httpRoutes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const route of sorted) {
    route.spec.rules.forEach((rule, index) => {
      const plan = planFor(route, rule, index, self);
      for (const match of rule.matches?.length ? rule.matches : [undefined]) entries.push({ ...compileMatch(match), plan, order: order++ });
    });
  }
  entries.sort(compare);
  const table: RouteTable = { select: (request) => entries.find((e) => e.test(request))?.plan };
  tables.set(routes, table);
  return table;
}

// Weighted choice: `draw` in [0, 1).
export function pickBackend(plan: RoutePlan, draw: number): ServiceRef | undefined {
  const total = plan.backends.reduce((sum, b) => sum + b.weight, 0);
  let point = draw * total;
  for (const backend of plan.backends) {
    point -= backend.weight;
    if (point < 0) return backend.service;
  }
  return plan.backends[plan.backends.length - 1]?.service;
}
