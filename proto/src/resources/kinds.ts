// The registry of resource kinds: each kind's one schema, its scope, and the checks a schema cannot express.
import type { TSchema } from '@sinclair/typebox';
import { durationMs } from './common.js';
import { MeshConfigSpec } from './mesh-config.js';
import { HTTPRouteSpec } from './http-route.js';
import { DestinationPolicySpec } from './destination-policy.js';
import { AuthorizationPolicySpec } from './authorization-policy.js';
import { RateLimitPolicySpec } from './rate-limit-policy.js';

export interface SpecIssue {
  // Path below `spec`, e.g. ['rules', 0, 'matches', 1, 'path', 'value'].
  path: Array<string | number>;
  message: string;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  shortNames: string[];
  namespaced: boolean;
  spec: TSchema;
  // Semantic checks run after the schema accepted the spec.
  check?: (spec: never, name: string) => SpecIssue[];
}

function regexIssue(value: string, path: Array<string | number>): SpecIssue[] {
  try {
    new RegExp(value);
    return [];
  } catch (error) {
    return [{ path, message: `not a valid regular expression: ${(error as Error).message}` }];
  }
}

function checkRoute(spec: HTTPRouteSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.rules.forEach((rule, r) => {
    rule.matches?.forEach((match, m) => {
      if (match.path?.type === 'RegularExpression') issues.push(...regexIssue(match.path.value, ['rules', r, 'matches', m, 'path', 'value']));
      if (match.path && match.path.type !== 'RegularExpression' && !match.path.value.startsWith('/')) {
        issues.push({ path: ['rules', r, 'matches', m, 'path', 'value'], message: `"${match.path.value}" must start with "/"` });
      }
      match.headers?.forEach((header, h) => {
        const type = header.type ?? 'Exact';
        if (type !== 'Present' && header.value === undefined) issues.push({ path: ['rules', r, 'matches', m, 'headers', h, 'value'], message: `a ${type} header match needs a value` });
        if (type === 'RegularExpression' && header.value !== undefined) issues.push(...regexIssue(header.value, ['rules', r, 'matches', m, 'headers', h, 'value']));
      });
    });
    const backends = rule.backends ?? [];
    if (backends.length > 0 && backends.every((b) => (b.weight ?? 1) === 0)) issues.push({ path: ['rules', r, 'backends'], message: 'at least one backend needs a weight above 0' });
    const request = rule.timeouts?.request;
    const perTry = rule.timeouts?.perTry ?? rule.retries?.perTryTimeout;
    if (request && perTry && durationMs(perTry) > durationMs(request)) issues.push({ path: ['rules', r, 'timeouts', 'perTry'], message: `the per-try timeout ${perTry} is longer than the request timeout ${request}` });
    const backoff = rule.retries?.backoff;
    if (backoff && durationMs(backoff.base) > durationMs(backoff.max)) issues.push({ path: ['rules', r, 'retries', 'backoff', 'base'], message: `base ${backoff.base} is above max ${backoff.max}` });
  });
  return issues;
}

export const KINDS: readonly KindDefinition[] = [
  {
    kind: 'MeshConfig',
    plural: 'meshconfigs',
    shortNames: ['mc'],
    namespaced: false,
    spec: MeshConfigSpec,
    check: (_spec: never, name: string) => (name === 'default' ? [] : [{ path: [], message: `a MeshConfig must be named "default" (got "${name}"); the mesh has one` }]),
  },
  { kind: 'HTTPRoute', plural: 'httproutes', shortNames: ['route', 'routes'], namespaced: true, spec: HTTPRouteSpec, check: checkRoute },
  { kind: 'DestinationPolicy', plural: 'destinationpolicies', shortNames: ['dp'], namespaced: true, spec: DestinationPolicySpec },
  { kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', shortNames: ['authz', 'ap'], namespaced: true, spec: AuthorizationPolicySpec },
  {
    kind: 'RateLimitPolicy',
    plural: 'ratelimitpolicies',
    shortNames: ['rl'],
    namespaced: true,
    spec: RateLimitPolicySpec,
    check: ((spec: RateLimitPolicySpec) => (spec.global || spec.perCaller || spec.overrides?.length ? [] : [{ path: [], message: 'set at least one of global, perCaller or overrides' }])),
  },
];

export function findKind(name: string): KindDefinition | undefined {
  const lower = name.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === lower || k.plural === lower || k.kind.toLowerCase() + 's' === lower || k.shortNames.includes(lower));
}
