// Decides whether a verified caller may make a request, from AuthorizationPolicies (Istio's semantics).
import type { AuthorizationPolicyResource, MeshConfigResource } from '../resources/validate.js';
import type { AuthorizationPolicySpec } from '../resources/authorization-policy.js';

export interface AuthzRequest {
  // The caller's verified SPIFFE ID; undefined for plaintext (PERMISSIVE mode).
  principal: string | undefined;
  method: string;
  path: string;
  header(name: string): string | undefined;
  // Opaque TCP: there is no method, path or header to match.
  tcp?: boolean;
}

export type AuthzDecision = { allowed: true; policy?: string } | { allowed: false; policy?: string; reason: string };

type Rule = NonNullable<AuthorizationPolicySpec['rules']>[number];

// "*" in a principal matches one whole segment; so does "*" in a namespace list.
function principalMatches(pattern: string, principal: string): boolean {
  if (!pattern.includes('*')) return pattern === principal;
  const p = pattern.split('/');
  const q = principal.split('/');
  return p.length === q.length && p.every((part, i) => part === '*' || part === q[i]);
}

function namespaceOf(principal: string): string | undefined {
  return /\/ns\/([^/]+)\/sa\//.exec(principal)?.[1];
}

export function pathMatches(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return path.endsWith(pattern.slice(1));
  return pattern === path;
}

// On TCP, HTTP-only conditions cannot be checked; as Istio does, an ALLOW rule that needs them never
// matches (fail closed) and a DENY rule ignores them (deny more rather than less).
function ruleMatches(rule: Rule, request: AuthzRequest, action: 'ALLOW' | 'DENY'): boolean {
  if (request.tcp) {
    const httpOnly = (rule.to ?? []).some((op) => op.methods !== undefined || op.paths !== undefined) || (rule.when?.length ?? 0) > 0;
    if (httpOnly && action === 'ALLOW') return false;
    if (httpOnly) return ruleMatches({ ...(rule.from ? { from: rule.from } : {}) }, { ...request, tcp: false }, action);
  }
  const path = request.path.split('?')[0] ?? request.path;
  const fromOk =
    !rule.from ||
    rule.from.some((source) => {
      if (source.unauthenticated !== undefined && source.unauthenticated !== (request.principal === undefined)) return false;
      if (source.principals && !(request.principal && source.principals.some((p) => principalMatches(p, request.principal!)))) return false;
      if (source.namespaces) {
        const ns = request.principal ? namespaceOf(request.principal) : undefined;
        if (!ns || !source.namespaces.some((n) => n === '*' || n === ns)) return false;
      }
      return true;
    });
  const toOk = !rule.to || rule.to.some((op) => (!op.methods || op.methods.includes(request.method)) && (!op.paths || op.paths.some((p) => pathMatches(p, path))));
  const whenOk = !rule.when || rule.when.every((condition) => {
    const value = request.header(condition.header);
    return value !== undefined && condition.values.some((v) => (v.endsWith('*') ? value.startsWith(v.slice(0, -1)) : v === value));
  });
  return fromOk && toOk && whenOk;
}

const policyName = (p: AuthorizationPolicyResource): string => `${p.metadata.namespace}/${p.metadata.name}`;

export function authorize(request: AuthzRequest, policies: readonly AuthorizationPolicyResource[], meshConfig: MeshConfigResource | null): AuthzDecision {
  const who = request.principal ?? 'an unauthenticated (plaintext) caller';
  // DENY wins over everything, as in Istio.
  for (const policy of policies) {
    if (policy.spec.action !== 'DENY') continue;
    if ((policy.spec.rules ?? []).some((rule) => ruleMatches(rule, request, 'DENY'))) {
      return { allowed: false, policy: policyName(policy), reason: `denied by AuthorizationPolicy ${policyName(policy)} (DENY rule matched ${who} ${request.method} ${request.path})` };
    }
  }
  const allows = policies.filter((p) => p.spec.action === 'ALLOW');
  // Any ALLOW policy on a target makes it default-deny.
  if (allows.length > 0) {
    const match = allows.find((policy) => (policy.spec.rules ?? []).some((rule) => ruleMatches(rule, request, 'ALLOW')));
    if (match) return { allowed: true, policy: policyName(match) };
    return { allowed: false, reason: `no ALLOW rule matched ${who} ${request.method} ${request.path} (ALLOW policies: ${allows.map(policyName).join(', ')})` };
  }
  const defaultPolicy = meshConfig?.spec.defaultPolicy ?? 'allow-authenticated';
  if (defaultPolicy === 'deny') return { allowed: false, policy: 'MeshConfig/default', reason: `the mesh default policy is deny and no AuthorizationPolicy allows ${who}` };
  // PERMISSIVE exists to let plaintext callers in during a migration; only policy can keep them out.
  if (request.principal === undefined && meshConfig?.spec.mtls?.mode !== 'PERMISSIVE') return { allowed: false, reason: 'plaintext callers are refused in STRICT mTLS mode' };
  return { allowed: true };
}
