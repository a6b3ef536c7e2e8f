// CustomResourceDefinitions made from the resource kinds' TypeBox schemas: one schema, two validators.
import YAML from 'yaml';
import { API_GROUP, KINDS, type KindDefinition } from '@tsmesh/proto';

export const CRD_VERSION = 'v1alpha1';

// A node of a Kubernetes structural schema (apiextensions.k8s.io/v1 JSONSchemaProps, the part we emit).
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  enum?: Array<string | number | boolean>;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  format?: string;
}

type JsonSchema = Record<string, unknown>;

export class SchemaConversionError extends Error {}

const KEPT_VALIDATIONS = ['description', 'pattern', 'minLength', 'maxLength', 'minItems', 'maxItems', 'minimum', 'maximum', 'format'] as const;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// A union of string literals and patterned strings is one string whose pattern accepts any branch.
function stringUnion(branches: JsonSchema[], at: string): StructuralSchema {
  const literals = branches.filter((b) => 'const' in b).map((b) => b['const']);
  if (literals.length === branches.length) {
    if (!literals.every((l) => typeof l === 'string')) throw new SchemaConversionError(`${at}: only string literal unions are supported`);
    return { type: 'string', enum: literals };
  }
  // Each branch keeps its own anchors inside a group, so an unanchored branch pattern keeps its meaning.
  const alternatives = branches.map((b) => {
    if (typeof b['const'] === 'string') return `^${escapeRegExp(b['const'])}$`;
    if (b['type'] === 'string' && typeof b['pattern'] === 'string') return b['pattern'];
    throw new SchemaConversionError(`${at}: a union may mix only string literals and patterned strings`);
  });
  const described = branches.map((b) => (typeof b['const'] === 'string' ? `"${b['const']}"` : (b['description'] as string | undefined) ?? `a string matching ${String(b['pattern'])}`));
  return { type: 'string', pattern: alternatives.map((a) => `(?:${a})`).join('|'), description: `one of: ${described.join(', ')}` };
}

// TypeBox emits JSON Schema draft 2019-09; Kubernetes wants an OpenAPI v3.0 structural schema.
export function toStructuralSchema(schema: JsonSchema, at = 'spec'): StructuralSchema {
  const anyOf = schema['anyOf'];
  if (Array.isArray(anyOf)) {
    const converted = stringUnion(anyOf as JsonSchema[], at);
    return typeof schema['description'] === 'string' && !converted.description ? { ...converted, description: schema['description'] } : converted;
  }
  if ('const' in schema) return stringUnion([schema], at);
  const type = schema['type'];
  const out: StructuralSchema = {};
  switch (type) {
    case 'object': {
      out.type = 'object';
      const properties = schema['properties'] as Record<string, JsonSchema> | undefined;
      const patternProperties = schema['patternProperties'] as Record<string, JsonSchema> | undefined;
      if (properties) out.properties = Object.fromEntries(Object.entries(properties).map(([name, child]) => [name, toStructuralSchema(child, `${at}.${name}`)]));
      // patternProperties is forbidden in CRDs; TypeBox's Record(String, X) is a map, which is additionalProperties: X.
      if (patternProperties) {
        const values = Object.values(patternProperties);
        if (properties || values.length !== 1 || !values[0]) throw new SchemaConversionError(`${at}: only Record(String, X) maps are supported`);
        out.additionalProperties = toStructuralSchema(values[0], `${at}.*`);
      }
      // additionalProperties: false is dropped: structural schemas forbid it beside properties, and pruning drops unknown fields.
      if (Array.isArray(schema['required']) && schema['required'].length > 0) out.required = [...(schema['required'] as string[])];
      break;
    }
    case 'array':
      out.type = 'array';
      if (!schema['items'] || Array.isArray(schema['items'])) throw new SchemaConversionError(`${at}: arrays need one items schema`);
      out.items = toStructuralSchema(schema['items'] as JsonSchema, `${at}[]`);
      break;
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      out.type = type;
      break;
    default:
      throw new SchemaConversionError(`${at}: no structural form for ${JSON.stringify(type ?? Object.keys(schema))}`);
  }
  for (const key of KEPT_VALIDATIONS) {
    if (schema[key] !== undefined) (out as Record<string, unknown>)[key] = schema[key];
  }
  // JSON Schema's numeric exclusive bounds are OpenAPI 3.0's booleans beside minimum/maximum.
  if (typeof schema['exclusiveMinimum'] === 'number') Object.assign(out, { minimum: schema['exclusiveMinimum'], exclusiveMinimum: true });
  if (typeof schema['exclusiveMaximum'] === 'number') Object.assign(out, { maximum: schema['exclusiveMaximum'], exclusiveMaximum: true });
  return out;
}

function printerColumns(kind: KindDefinition): Array<Record<string, string>> {
  const columns: Array<Record<string, string>> = [];
  const properties = (kind.spec as unknown as JsonSchema)['properties'] as Record<string, unknown> | undefined;
  if (properties?.['service']) columns.push({ name: 'Service', type: 'string', jsonPath: '.spec.service' });
  if (properties?.['action']) columns.push({ name: 'Action', type: 'string', jsonPath: '.spec.action' });
  columns.push({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });
  return columns;
}

export function crdFor(kind: KindDefinition): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys ([Kind], [OptionalKind]) before conversion.
  const spec = toStructuralSchema(JSON.parse(JSON.stringify(kind.spec)) as JsonSchema);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${kind.plural}.${API_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'tsmesh' } },
    spec: {
      group: API_GROUP,
      scope: kind.namespaced ? 'Namespaced' : 'Cluster',
      names: { kind: kind.kind, listKind: `${kind.kind}List`, plural: kind.plural, singular: kind.kind.toLowerCase(), shortNames: [...kind.shortNames], categories: ['tsmesh'] },
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: printerColumns(kind),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `tsmesh ${kind.kind}: generated from the ${kind.kind} schema in @tsmesh/proto; do not edit.`,
              required: ['spec'],
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec },
            },
          },
        },
      ],
    },
  };
}

export function crdFileName(kind: KindDefinition): string {
  return `${kind.plural}.${API_GROUP}.yaml`;
}

// Every CRD file under k8s/crds, plus its kustomization, keyed by file name.
export function renderCrdFiles(kinds: readonly KindDefinition[] = KINDS): Map<string, string> {
  const header = '# Generated by `npm run k8s:crds` from the schemas in proto/src/resources; do not edit.\n';
  const files = new Map<string, string>();
  for (const kind of kinds) files.set(crdFileName(kind), header + YAML.stringify(crdFor(kind), { lineWidth: 0 }));
  files.set('kustomization.yaml', header + YAML.stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: kinds.map(crdFileName) }));
  return files;
}
