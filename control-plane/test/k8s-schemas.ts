// Test helpers for Kubernetes: YAML documents from k8s/, validation against kubernetes-models and against our CRDs.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { KINDS } from '@tsmesh/proto';
import { crdFor } from '../src/k8s/crds.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const K8S = join(REPO, 'k8s');

export type K8sObject = { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };

export function yamlDocuments(text: string, source: string): K8sObject[] {
  return YAML.parseAllDocuments(text).flatMap((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source}: document ${i + 1}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

export function readYamlDir(dir: string): Array<{ file: string; docs: K8sObject[] }> {
  return readdirSync(join(K8S, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file: `${dir}/${file}`, docs: yamlDocuments(readFileSync(join(K8S, dir, file), 'utf8'), `${dir}/${file}`) }));
}

type Model = new (data: unknown) => { validate(): void };

// kubernetes-models validates types, enums and required fields; it does not refuse unknown fields.
export async function validateK8s(object: K8sObject): Promise<void> {
  const specifier = `kubernetes-models/${object.apiVersion}/${object.kind}`;
  const module = (await import(/* @vite-ignore */ specifier)) as Record<string, Model>;
  const model = module[object.kind];
  if (!model) throw new Error(`no kubernetes-models model for ${object.apiVersion} ${object.kind}`);
  new model(object).validate();
}

// OpenAPI 3.0 writes exclusive bounds as booleans beside minimum/maximum; ajv speaks JSON Schema's numbers.
function forAjv(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...schema };
  const properties = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
  if (properties) out['properties'] = Object.fromEntries(Object.entries(properties).map(([name, child]) => [name, forAjv(child)]));
  for (const child of ['items', 'additionalProperties'] as const) {
    if (typeof schema[child] === 'object') out[child] = forAjv(schema[child] as Record<string, unknown>);
  }
  for (const [exclusive, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (schema[exclusive] === true) {
      out[exclusive] = schema[bound];
      delete out[bound];
    }
  }
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const compiled = new Map<string, ValidateFunction>();

export function crdSchema(kind: string): Record<string, unknown> {
  const definition = KINDS.find((k) => k.kind === kind);
  if (!definition) throw new Error(`unknown kind ${kind}`);
  const crd = crdFor(definition) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> } };
  const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
  if (!schema) throw new Error(`${kind}: no schema`);
  return schema;
}

// The errors the API server's schema validation would report for this custom resource ([] when it accepts it).
export function crdErrors(resource: K8sObject): string[] {
  let validate = compiled.get(resource.kind);
  if (!validate) {
    validate = ajv.compile(forAjv(crdSchema(resource.kind)));
    compiled.set(resource.kind, validate);
  }
  return validate(resource) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}
