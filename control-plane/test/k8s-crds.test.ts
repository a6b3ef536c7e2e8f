// CRDs: generated from the resource schemas, committed up to date, valid CRDs, structural, and as strict as validateResource.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { API_VERSION, KINDS, validateResource } from '@tsmesh/proto';
import { renderCrdFiles, crdFor, toStructuralSchema, SchemaConversionError } from '../src/k8s/crds.js';
import { K8S, crdErrors, validateK8s, yamlDocuments, type K8sObject } from './k8s-schemas.js';

const valid: K8sObject[] = [
  { apiVersion: API_VERSION, kind: 'MeshConfig', metadata: { name: 'default' }, spec: { trustDomain: 'cluster.local', mtls: { mode: 'STRICT' }, defaultPolicy: 'allow-authenticated' } },
  {
    apiVersion: API_VERSION,
    kind: 'HTTPRoute',
    metadata: { name: 'orders', namespace: 'shop' },
    spec: {
      service: 'orders',
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' }, method: 'GET', headers: [{ name: 'x-canary', value: 'yes' }] }], backends: [{ service: 'orders-v2' }] },
        { backends: [{ service: 'orders', weight: 90 }, { service: 'orders-v2', weight: 10 }], timeouts: { request: '5s', perTry: '1s' }, retries: { attempts: 3, on: ['connect-failure', '503'], backoff: { base: '25ms', max: '250ms' } }, fault: { abort: { percent: 1, status: 503 } } },
      ],
    },
  },
  { apiVersion: API_VERSION, kind: 'DestinationPolicy', metadata: { name: 'orders', namespace: 'shop' }, spec: { service: 'orders', loadBalancer: { type: 'p2c-ewma' }, connectionPool: { maxConnections: 10, connectTimeout: '1s' }, outlierDetection: { consecutiveErrors: 5, baseEjectionTime: '30s', maxEjectionPercent: 50 }, retryBudget: { percent: 20, minRetriesPerSecond: 10 } } },
  { apiVersion: API_VERSION, kind: 'AuthorizationPolicy', metadata: { name: 'payments-allow', namespace: 'shop', labels: { team: 'a' } }, spec: { service: 'payments', action: 'ALLOW', rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/orders'], namespaces: ['shop', '*'] }], to: [{ methods: ['POST'], paths: ['/charge*'] }], when: [{ header: 'x-tenant', values: ['a'] }] }] } },
  { apiVersion: API_VERSION, kind: 'RateLimitPolicy', metadata: { name: 'payments', namespace: 'shop' }, spec: { service: 'payments', global: { requestsPerSecond: 100, burst: 200 }, perCaller: { requestsPerSecond: 0.5 }, overrides: [{ principal: 'spiffe://cluster.local/ns/shop/sa/orders', requestsPerSecond: 50 }] } },
];

const examplePolicies = yamlDocuments(readFileSync(join(K8S, 'examples', 'mesh-policies.yaml'), 'utf8'), 'examples/mesh-policies.yaml');

type Node = Record<string, unknown>;
// The rules of a structural schema that the API server enforces and kubernetes-models does not.
function structuralProblems(node: Node, at: string): string[] {
  const problems: string[] = [];
  if (typeof node['type'] !== 'string') problems.push(`${at}: no type`);
  for (const forbidden of ['anyOf', 'oneOf', 'allOf', 'not', 'const', 'patternProperties', '$id', '$schema', '$ref', 'definitions']) if (forbidden in node) problems.push(`${at}: ${forbidden} is not allowed`);
  if (node['additionalProperties'] !== undefined && (node['properties'] !== undefined || typeof node['additionalProperties'] !== 'object')) problems.push(`${at}: additionalProperties must be a schema, and not beside properties`);
  for (const bound of ['exclusiveMinimum', 'exclusiveMaximum']) if (bound in node && typeof node[bound] !== 'boolean') problems.push(`${at}: ${bound} must be a boolean (OpenAPI 3.0)`);
  for (const [name, child] of Object.entries((node['properties'] as Record<string, Node> | undefined) ?? {})) problems.push(...structuralProblems(child, `${at}.${name}`));
  if (node['items']) problems.push(...structuralProblems(node['items'] as Node, `${at}[]`));
  if (typeof node['additionalProperties'] === 'object') problems.push(...structuralProblems(node['additionalProperties'] as Node, `${at}.*`));
  return problems;
}

describe('generated CRDs', () => {
  it('are committed up to date in k8s/crds (regenerate with npm run k8s:crds)', () => {
    const files = renderCrdFiles();
    const onDisk = readdirSync(join(K8S, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(onDisk).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(K8S, 'crds', name), 'utf8'), `k8s/crds/${name} is stale; run npm run k8s:crds`).toBe(text);
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s is a valid, structural apiextensions.k8s.io/v1 CRD named from KINDS', async (_name, kind) => {
    const crd = crdFor(kind) as K8sObject & { spec: { group: string; scope: string; names: Record<string, unknown>; versions: Array<{ name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: Node } }> } };
    await validateK8s(crd);
    expect(crd.metadata?.name).toBe(`${kind.plural}.mesh.tsmesh.dev`);
    expect(crd.spec.scope).toBe(kind.kind === 'MeshConfig' ? 'Cluster' : 'Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: kind.kind, plural: kind.plural, shortNames: kind.shortNames });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
    expect(structuralProblems(crd.spec.versions[0]?.schema.openAPIV3Schema ?? {}, 'openAPIV3Schema')).toEqual([]);
  });

  it.each([...valid, ...examplePolicies].map((r) => [`${r.kind} ${r.metadata?.name}`, r] as const))('accepts the valid %s, as validateResource does', (_name, resource) => {
    expect(validateResource(structuredClone(resource)).ok).toBe(true);
    expect(crdErrors(resource)).toEqual([]);
  });

  it.each([
    ['bad enum', 'DestinationPolicy', { service: 'x', loadBalancer: { type: 'random' } }, '/spec/loadBalancer/type'],
    ['bad duration', 'HTTPRoute', { service: 'x', rules: [{ timeouts: { request: '5 seconds' } }] }, '/spec/rules/0/timeouts/request'],
    ['retry status out of range', 'HTTPRoute', { service: 'x', rules: [{ retries: { attempts: 1, on: ['600'] } }] }, '/spec/rules/0/retries/on/0'],
    ['zero requests per second (exclusive minimum)', 'RateLimitPolicy', { service: 'x', global: { requestsPerSecond: 0 } }, '/spec/global/requestsPerSecond'],
    ['missing required field', 'AuthorizationPolicy', { service: 'x' }, '/spec'],
    ['non-integer', 'HTTPRoute', { service: 'x', rules: [{ retries: { attempts: 1.5 } }] }, '/spec/rules/0/retries/attempts'],
  ])('refuses %s, as validateResource does', (_name, kind, spec, path) => {
    const resource: K8sObject = { apiVersion: API_VERSION, kind, metadata: { name: 'x', namespace: 'shop' }, spec };
    expect(validateResource(structuredClone(resource)).ok).toBe(false);
    expect(crdErrors(resource).join('\n')).toContain(path);
  });

  it('turns string unions into one pattern that accepts exactly what the TypeBox union accepts', () => {
    const route = (on: string): K8sObject => ({ apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name: 'x', namespace: 'shop' }, spec: { service: 'x', rules: [{ retries: { attempts: 1, on: [on] } }] } });
    const authz = (ns: string): K8sObject => ({ apiVersion: API_VERSION, kind: 'AuthorizationPolicy', metadata: { name: 'x', namespace: 'shop' }, spec: { action: 'ALLOW', rules: [{ from: [{ namespaces: [ns] }] }] } });
    const candidates = fc.oneof(fc.constantFrom('connect-failure', 'reset', '5xx', '503', '600', '*', 'shop', '-x', 'a*', 'reset\n', 'x5xx'), fc.string({ maxLength: 8 }), fc.stringMatching(/^[1-7][0-9]{1,3}$/));
    fc.assert(
      fc.property(candidates, (value) => {
        for (const resource of [route(value), authz(value)]) expect(crdErrors(resource).length === 0).toBe(validateResource(structuredClone(resource)).ok);
      }),
    );
  });

  it('refuses schema shapes it has no structural form for, instead of emitting an invalid CRD', () => {
    expect(() => toStructuralSchema({ anyOf: [{ type: 'object', properties: {} }, { type: 'string' }] })).toThrow(SchemaConversionError);
    expect(() => toStructuralSchema({ type: 'null' })).toThrow(SchemaConversionError);
  });
});
