// Resource kinds: valid objects pass, each class of mistake is refused with the field and the line.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import YAML from 'yaml';
import { parseResourceDocuments, formatDocumentError, validateResource, findKind, API_VERSION } from '@tsmesh/proto';

const valid = {
  MeshConfig: { metadata: { name: 'default' }, spec: { trustDomain: 'cluster.local', mtls: { mode: 'STRICT' }, defaultPolicy: 'allow-authenticated' } },
  HTTPRoute: {
    metadata: { name: 'orders', namespace: 'shop' },
    spec: {
      service: 'orders',
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' }, headers: [{ name: 'x-canary', value: 'yes' }] }], backends: [{ service: 'orders-v2' }] },
        { backends: [{ service: 'orders', weight: 90 }, { service: 'orders-v2', weight: 10 }], timeouts: { request: '5s', perTry: '1s' }, retries: { attempts: 3, on: ['connect-failure', '503'], backoff: { base: '25ms', max: '250ms' } }, fault: { abort: { percent: 1, status: 503 } } },
      ],
    },
  },
  DestinationPolicy: { metadata: { name: 'orders' }, spec: { service: 'orders', loadBalancer: { type: 'p2c-ewma' }, connectionPool: { maxConnections: 10, connectTimeout: '1s' }, outlierDetection: { consecutiveErrors: 5, baseEjectionTime: '30s', maxEjectionPercent: 50 }, retryBudget: { percent: 20, minRetriesPerSecond: 10 } } },
  AuthorizationPolicy: { metadata: { name: 'payments-allow', namespace: 'shop' }, spec: { service: 'payments', action: 'ALLOW', rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/orders'] }], to: [{ methods: ['POST'], paths: ['/charge*'] }], when: [{ header: 'x-tenant', values: ['a'] }] }] } },
  RateLimitPolicy: { metadata: { name: 'payments' }, spec: { service: 'payments', global: { requestsPerSecond: 100, burst: 200 }, perCaller: { requestsPerSecond: 10 }, overrides: [{ principal: 'spiffe://cluster.local/ns/shop/sa/orders', requestsPerSecond: 50 }] } },
} as const;

const doc = (kind: string, body: object): Record<string, unknown> => ({ apiVersion: API_VERSION, kind, ...structuredClone(body) });

describe('resource validation', () => {
  it.each(Object.entries(valid))('accepts a valid %s and fills the namespace', (kind, body) => {
    const result = validateResource(doc(kind, body), 'team-a');
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (result.ok) expect(result.value.metadata.namespace).toBe(kind === 'MeshConfig' ? '' : ((body.metadata as { namespace?: string }).namespace ?? 'team-a'));
  });

  it.each([
    ['wrong apiVersion', { ...doc('HTTPRoute', valid.HTTPRoute), apiVersion: 'v1' }, 'apiVersion', 'expected "mesh.tsmesh.dev/v1alpha1"'],
    ['unknown kind', doc('Gateway', valid.HTTPRoute), 'kind', 'unknown kind "Gateway"'],
    ['missing spec', { apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: 'x' } }, 'spec', 'required field is missing'],
    ['bad name', doc('HTTPRoute', { ...valid.HTTPRoute, metadata: { name: 'Orders_1' } }), 'metadata.name', 'is not a DNS-1123 label'],
    ['unknown field', doc('DestinationPolicy', { metadata: { name: 'x' }, spec: { service: 'x', loadbalancer: {} } }), 'spec.loadbalancer', 'unknown field'],
    ['bad enum', doc('DestinationPolicy', { metadata: { name: 'x' }, spec: { service: 'x', loadBalancer: { type: 'random' } } }), 'spec.loadBalancer.type', 'expected one of "round-robin", "p2c-ewma"'],
    ['bad duration', doc('HTTPRoute', { metadata: { name: 'x' }, spec: { service: 'x', rules: [{ timeouts: { request: '5 seconds' } }] } }), 'spec.rules[0].timeouts.request', 'is not a duration'],
    ['bad regex', doc('HTTPRoute', { metadata: { name: 'x' }, spec: { service: 'x', rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/(' } }] }] } }), 'spec.rules[0].matches[0].path.value', 'not a valid regular expression'],
    ['per-try above request', doc('HTTPRoute', { metadata: { name: 'x' }, spec: { service: 'x', rules: [{ timeouts: { request: '1s', perTry: '2s' } }] } }), 'spec.rules[0].timeouts.perTry', 'longer than the request timeout'],
    ['all weights zero', doc('HTTPRoute', { metadata: { name: 'x' }, spec: { service: 'x', rules: [{ backends: [{ service: 'a', weight: 0 }] }] } }), 'spec.rules[0].backends', 'weight above 0'],
    ['bad principal', doc('AuthorizationPolicy', { metadata: { name: 'x' }, spec: { action: 'ALLOW', rules: [{ from: [{ principals: ['orders'] }] }] } }), 'spec.rules[0].from[0].principals[0]', 'is not spiffe://'],
    ['bad action', doc('AuthorizationPolicy', { metadata: { name: 'x' }, spec: { action: 'AUDIT' } }), 'spec.action', 'expected one of "ALLOW", "DENY"'],
    ['empty rate limit', doc('RateLimitPolicy', { metadata: { name: 'x' }, spec: { service: 'x' } }), 'spec', 'set at least one of'],
    ['MeshConfig not default', doc('MeshConfig', { metadata: { name: 'mine' }, spec: {} }), 'spec', 'must be named "default"'],
    ['namespaced MeshConfig', doc('MeshConfig', { metadata: { name: 'default', namespace: 'x' }, spec: {} }), 'metadata.namespace', 'is not namespaced'],
  ])('refuses %s', (_name, input, path, message) => {
    const result = validateResource(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const issue = result.error.find((i) => i.path.reduce<string>((t, p) => (typeof p === 'number' ? `${t}[${p}]` : t ? `${t}.${p}` : p), '') === path);
    expect(issue, JSON.stringify(result.error)).toBeDefined();
    expect(issue?.message).toContain(message);
  });

  it('finds kinds by name, plural and short name', () => {
    expect(findKind('httproutes')?.kind).toBe('HTTPRoute');
    expect(findKind('authz')?.kind).toBe('AuthorizationPolicy');
    expect(findKind('MeshConfig')?.kind).toBe('MeshConfig');
    expect(findKind('pods')).toBeUndefined();
  });
});

describe('YAML documents', () => {
  it('names file, document, line and field for each error, and applies nothing when one document is bad', () => {
    const text = ['apiVersion: mesh.tsmesh.dev/v1alpha1', 'kind: DestinationPolicy', 'metadata: {name: ok}', 'spec: {service: ok}', '---', 'apiVersion: mesh.tsmesh.dev/v1alpha1', 'kind: HTTPRoute', 'metadata:', '  name: r', 'spec:', '  service: orders', '  rules:', '  - backends:', '    - service: v2', '      weight: lots'].join('\n');
    const result = parseResourceDocuments(text, 'route.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.map(formatDocumentError)).toEqual(['route.yaml:15:15: document 2: spec.rules[0].backends[0].weight: expected integer, got "lots"']);
  });

  it('reports YAML syntax errors with their line', () => {
    const result = parseResourceDocuments('kind: HTTPRoute\nmetadata: {name: x\n', 'bad.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error[0]).toMatchObject({ file: 'bad.yaml', document: 1, path: '(yaml)' });
  });

  it('skips empty documents and keeps order', () => {
    const text = `---\n${YAML.stringify(doc('DestinationPolicy', valid.DestinationPolicy))}---\n# nothing\n---\n${YAML.stringify(doc('RateLimitPolicy', valid.RateLimitPolicy))}`;
    const result = parseResourceDocuments(text, 'x.yaml');
    expect(result.ok && result.value.map((r) => [r.resource.kind, r.document])).toEqual([['DestinationPolicy', 1], ['RateLimitPolicy', 3]]);
  });

  it('never throws, whatever the input (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => {
      const result = parseResourceDocuments(text, 'fuzz.yaml');
      if (!result.ok) for (const e of result.error) expect(e.line).toBeGreaterThanOrEqual(1);
    }), { numRuns: 300 });
  });

  it('accepts every generated well-formed route, and refuses it with any unknown field added (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
    const duration = fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom('ms', 's', 'm')).map(([n, u]) => `${n}${u}`);
    const rule = fc.record({
      matches: fc.array(fc.record({ path: fc.record({ type: fc.constantFrom('PathPrefix', 'Exact'), value: label.map((l) => `/${l}`) }), method: fc.constantFrom('GET', 'POST') }), { maxLength: 3 }),
      backends: fc.array(fc.record({ service: label, weight: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 3 }),
      timeouts: fc.record({ request: duration }),
      retries: fc.record({ attempts: fc.integer({ min: 0, max: 5 }), on: fc.subarray(['connect-failure', 'reset', '503', '5xx']) }),
    });
    fc.assert(fc.property(label, fc.array(rule, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{3,8}$/), (name, rules, extra) => {
      const route = doc('HTTPRoute', { metadata: { name }, spec: { service: name, rules } });
      expect(validateResource(route).ok).toBe(true);
      const spoiled = structuredClone(route) as { spec: { rules: Array<Record<string, unknown>> } };
      const first = spoiled.spec.rules[0];
      if (first && !(extra in first)) {
        first[extra] = true;
        expect(validateResource(spoiled).ok).toBe(false);
      }
    }), { numRuns: 200 });
  });
});
