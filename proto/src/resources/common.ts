// Building blocks shared by every resource kind: names, durations, object metadata.
import { Type, type Static } from '@sinclair/typebox';

export const API_GROUP = 'mesh.tsmesh.dev';
export const API_VERSION = `${API_GROUP}/v1alpha1`;

export const DnsLabel = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', description: 'a DNS-1123 label: lower-case letters, digits and "-", at most 63' });

// Go-style durations as Kubernetes users write them: 250ms, 5s, 1m30s.
export const Duration = Type.String({ pattern: '^([0-9]+(ms|s|m|h))+$', description: 'a duration such as 250ms, 5s, 1m30s' });

export const Percent = Type.Number({ minimum: 0, maximum: 100 });

export const SpiffeId = Type.String({ pattern: '^spiffe://[a-z0-9._-]+/ns/([a-z0-9-]+|\\*)/sa/([a-z0-9-]+|\\*)$', description: 'spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>; "*" allowed for namespace or service account' });

export const HttpMethod = Type.Union(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'].map((m) => Type.Literal(m)));

export const ObjectMeta = Type.Object(
  {
    name: DnsLabel,
    namespace: Type.Optional(DnsLabel),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    // Set by the store; accepted on input for optimistic concurrency.
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type ObjectMeta = Static<typeof ObjectMeta>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

// Parses a duration the schema has already accepted.
export function durationMs(value: string): number {
  let total = 0;
  for (const match of value.matchAll(/([0-9]+)(ms|s|m|h)/g)) total += Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 0);
  return total;
}
