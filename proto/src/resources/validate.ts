// Validates a resource object against its kind's schema into a typed resource, or a list of issues with field paths.
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TSchema } from '@sinclair/typebox';
import { API_VERSION, ObjectMeta } from './common.js';
import { KINDS, type KindDefinition } from './kinds.js';
import type { MeshConfigSpec } from './mesh-config.js';
import type { HTTPRouteSpec } from './http-route.js';
import type { DestinationPolicySpec } from './destination-policy.js';
import type { AuthorizationPolicySpec } from './authorization-policy.js';
import type { RateLimitPolicySpec } from './rate-limit-policy.js';
import { ok, err, type Result } from '../result.js';

interface ResourceOf<K extends string, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta & { namespace: string };
  spec: S;
}

export type MeshConfigResource = ResourceOf<'MeshConfig', MeshConfigSpec>;
export type HTTPRouteResource = ResourceOf<'HTTPRoute', HTTPRouteSpec>;
export type DestinationPolicyResource = ResourceOf<'DestinationPolicy', DestinationPolicySpec>;
export type AuthorizationPolicyResource = ResourceOf<'AuthorizationPolicy', AuthorizationPolicySpec>;
export type RateLimitPolicyResource = ResourceOf<'RateLimitPolicy', RateLimitPolicySpec>;
export type MeshResource = MeshConfigResource | HTTPRouteResource | DestinationPolicyResource | AuthorizationPolicyResource | RateLimitPolicyResource;

export interface ValidationIssue {
  // From the document root, e.g. ['spec', 'rules', 0, 'backends'].
  path: Array<string | number>;
  message: string;
}

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checker(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

function describe(error: ValueError): string {
  const schema = error.schema as { description?: string; anyOf?: Array<{ const?: unknown }>; pattern?: string };
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required field is missing';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown field';
    case ValueErrorType.Union:
      if (schema.anyOf?.every((s) => s.const !== undefined)) return `expected one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(', ')}, got ${JSON.stringify(error.value)}`;
      return `${JSON.stringify(error.value)} is not ${schema.description ?? 'an allowed value'}`;
    case ValueErrorType.StringPattern:
      return `${JSON.stringify(error.value)} is not ${schema.description ?? `matching ${schema.pattern}`}`;
    default:
      return `${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}${error.value === undefined ? '' : `, got ${JSON.stringify(error.value)}`}`;
  }
}

function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function schemaIssues(schema: TSchema, value: unknown, prefix: Array<string | number>): ValidationIssue[] {
  const check = checker(schema);
  if (check.Check(value)) return [];
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(value)) {
    const path = [...prefix, ...pointerToPath(error.path)];
    const key = path.join('.');
    // The first error at a path is the most specific one TypeBox reports.
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ path, message: describe(error) });
    if (issues.length >= 20) break;
  }
  return issues;
}

export function formatPath(path: Array<string | number>): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part), '') || '(document)';
}

export function validateResource(input: unknown, defaultNamespace = 'default', options: { semantic?: boolean } = {}): Result<MeshResource, ValidationIssue[]> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return err([{ path: [], message: 'expected a mapping with apiVersion, kind, metadata and spec' }]);
  const doc = { ...(input as Record<string, unknown>) };
  const issues: ValidationIssue[] = [];
  if (doc['apiVersion'] !== API_VERSION) issues.push({ path: ['apiVersion'], message: `expected "${API_VERSION}", got ${JSON.stringify(doc['apiVersion'])}` });
  const kind: KindDefinition | undefined = KINDS.find((k) => k.kind === doc['kind']);
  if (!kind) {
    issues.push({ path: ['kind'], message: `unknown kind ${JSON.stringify(doc['kind'])}; expected one of ${KINDS.map((k) => k.kind).join(', ')}` });
    return err(issues);
  }
  for (const key of Object.keys(doc)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(key)) issues.push({ path: [key], message: 'unknown field' });
  }
  // A cluster-scoped object read back from the store carries namespace ""; that is no namespace.
  const rawMeta = doc['metadata'];
  if (typeof rawMeta === 'object' && rawMeta !== null && (rawMeta as { namespace?: unknown }).namespace === '') {
    const { namespace: _empty, ...rest } = rawMeta as Record<string, unknown>;
    doc['metadata'] = rest;
  }
  if (doc['metadata'] === undefined) issues.push({ path: ['metadata'], message: 'required field is missing' });
  else issues.push(...schemaIssues(ObjectMeta, doc['metadata'], ['metadata']));
  if (doc['spec'] === undefined) issues.push({ path: ['spec'], message: 'required field is missing' });
  else {
    const specIssues = schemaIssues(kind.spec, doc['spec'], ['spec']);
    issues.push(...specIssues);
    const name = (doc['metadata'] as { name?: unknown } | undefined)?.name;
    if (specIssues.length === 0 && kind.check && options.semantic !== false) issues.push(...kind.check(doc['spec'] as never, typeof name === 'string' ? name : '').map((i) => ({ path: ['spec', ...i.path], message: i.message })));
  }
  const metadata = doc['metadata'] as ObjectMeta | undefined;
  if (metadata && !kind.namespaced && metadata.namespace !== undefined) issues.push({ path: ['metadata', 'namespace'], message: `${kind.kind} is not namespaced; remove metadata.namespace` });
  if (issues.length > 0) return err(issues);
  const namespace = kind.namespaced ? (metadata?.namespace ?? defaultNamespace) : '';
  return ok({ apiVersion: API_VERSION, kind: kind.kind, metadata: { ...metadata, namespace }, spec: doc['spec'] } as MeshResource);
}
