// AuthorizationPolicy evaluation: DENY wins, any ALLOW makes the target default-deny, wildcards, defaults.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { API_VERSION, type AuthorizationPolicyResource, type AuthorizationPolicySpec, type MeshConfigResource } from '@tsmesh/proto';
import { authorize, pathMatches, type AuthzRequest } from '@tsmesh/proto';

const ORDERS = 'spiffe://cluster.local/ns/shop/sa/orders';
const WEB = 'spiffe://cluster.local/ns/web/sa/frontend';

function policy(name: string, spec: AuthorizationPolicySpec): AuthorizationPolicyResource {
  return { apiVersion: API_VERSION, kind: 'AuthorizationPolicy', metadata: { name, namespace: 'shop' }, spec };
}

function mesh(spec: MeshConfigResource['spec']): MeshConfigResource {
  return { apiVersion: API_VERSION, kind: 'MeshConfig', metadata: { name: 'default', namespace: '' }, spec };
}

const req = (principal: string | undefined, method = 'GET', path = '/', headers: Record<string, string> = {}): AuthzRequest => ({ principal, method, path, header: (n) => headers[n] });

describe('authorize', () => {
  it('allows authenticated callers when no policy speaks of the target', () => {
    expect(authorize(req(ORDERS), [], null)).toEqual({ allowed: true });
  });

  it('refuses plaintext callers in STRICT mode and lets them in under PERMISSIVE', () => {
    expect(authorize(req(undefined), [], null)).toMatchObject({ allowed: false, reason: 'plaintext callers are refused in STRICT mTLS mode' });
    expect(authorize(req(undefined), [], mesh({ mtls: { mode: 'PERMISSIVE' } }))).toEqual({ allowed: true });
  });

  it('denies everything no policy allows when the mesh default is deny', () => {
    expect(authorize(req(ORDERS), [], mesh({ defaultPolicy: 'deny' }))).toMatchObject({ allowed: false, policy: 'MeshConfig/default' });
  });

  it('makes a target default-deny as soon as one ALLOW policy exists', () => {
    const allowOrders = policy('allow-orders', { action: 'ALLOW', rules: [{ from: [{ principals: [ORDERS] }], to: [{ methods: ['POST'], paths: ['/charge*'] }] }] });
    expect(authorize(req(ORDERS, 'POST', '/charge/1?x=1'), [allowOrders], null)).toEqual({ allowed: true, policy: 'shop/allow-orders' });
    expect(authorize(req(ORDERS, 'GET', '/charge'), [allowOrders], null)).toMatchObject({ allowed: false, reason: expect.stringContaining('no ALLOW rule matched') });
    expect(authorize(req(WEB, 'POST', '/charge'), [allowOrders], null).allowed).toBe(false);
  });

  it('lets DENY win over a matching ALLOW and names the policy', () => {
    const allowAll = policy('allow-all', { action: 'ALLOW', rules: [{}] });
    const denyWeb = policy('deny-web', { action: 'DENY', rules: [{ from: [{ namespaces: ['web'] }] }] });
    expect(authorize(req(WEB), [allowAll, denyWeb], null)).toMatchObject({ allowed: false, policy: 'shop/deny-web', reason: expect.stringContaining('denied by AuthorizationPolicy shop/deny-web') });
    expect(authorize(req(ORDERS), [allowAll, denyWeb], null)).toMatchObject({ allowed: true });
  });

  it('treats an ALLOW policy without rules as allowing nothing', () => {
    expect(authorize(req(ORDERS), [policy('nothing', { action: 'ALLOW' })], null).allowed).toBe(false);
  });

  it('matches principal wildcards by whole segment, headers and unauthenticated sources', () => {
    const anyInShop = policy('shop-any', { action: 'ALLOW', rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/*'] }], when: [{ header: 'x-tenant', values: ['acme', 'beta*'] }] }] });
    expect(authorize(req(ORDERS, 'GET', '/', { 'x-tenant': 'acme' }), [anyInShop], null).allowed).toBe(true);
    expect(authorize(req(ORDERS, 'GET', '/', { 'x-tenant': 'beta-2' }), [anyInShop], null).allowed).toBe(true);
    expect(authorize(req(ORDERS, 'GET', '/'), [anyInShop], null).allowed).toBe(false);
    expect(authorize(req(WEB, 'GET', '/', { 'x-tenant': 'acme' }), [anyInShop], null).allowed).toBe(false);
    const plaintext = policy('legacy', { action: 'ALLOW', rules: [{ from: [{ unauthenticated: true }], to: [{ paths: ['/health'] }] }] });
    expect(authorize(req(undefined, 'GET', '/health'), [plaintext], mesh({ mtls: { mode: 'PERMISSIVE' } })).allowed).toBe(true);
    expect(authorize(req(ORDERS, 'GET', '/health'), [plaintext], null).allowed).toBe(false);
  });

  it('never allows what a matching DENY covers, whatever the other policies (property)', () => {
    const principal = fc.constantFrom(ORDERS, WEB, undefined);
    const method = fc.constantFrom('GET', 'POST', 'DELETE');
    const path = fc.constantFrom('/', '/a', '/a/b', '/admin');
    const spec = fc.record({ action: fc.constantFrom('ALLOW' as const, 'DENY' as const), rules: fc.array(fc.record({ to: fc.array(fc.record({ methods: fc.subarray(['GET', 'POST', 'DELETE'] as const, { minLength: 1 }) }), { minLength: 1, maxLength: 2 }) }), { maxLength: 2 }) });
    fc.assert(fc.property(principal, method, path, fc.array(spec, { maxLength: 4 }), (p, m, pa, specs) => {
      const policies = specs.map((s, i) => policy(`p${i}`, s as AuthorizationPolicySpec));
      const decision = authorize(req(p, m, pa), policies, mesh({ mtls: { mode: 'PERMISSIVE' } }));
      const denied = policies.some((x) => x.spec.action === 'DENY' && (x.spec.rules ?? []).some((r) => r.to?.some((o) => o.methods?.includes(m))));
      if (denied) expect(decision.allowed).toBe(false);
      const allows = policies.filter((x) => x.spec.action === 'ALLOW');
      if (!denied && allows.length === 0) expect(decision.allowed).toBe(true);
    }));
  });
});

describe('pathMatches', () => {
  it.each([
    ['*', '/anything', true],
    ['/api*', '/api/v1', true],
    ['/api*', '/ap', false],
    ['*.png', '/img/a.png', true],
    ['/exact', '/exact', true],
    ['/exact', '/exact/', false],
  ])('%s against %s is %s', (pattern, path, expected) => {
    expect(pathMatches(pattern, path)).toBe(expected);
  });
});
