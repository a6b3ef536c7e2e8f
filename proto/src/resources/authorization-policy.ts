// AuthorizationPolicy: who may call a service, by verified identity, method, path and header (Istio's model).
import { Type, type Static } from '@sinclair/typebox';
import { DnsLabel, HttpMethod, SpiffeId } from './common.js';

// Paths as in Istio: exact, "/prefix*", "*suffix" or "*".
const PathPattern = Type.String({ pattern: '^(\\*|\\*?[^*]+|[^*]+\\*)$', description: 'an exact path, a prefix ending in *, a suffix starting with *, or *' });

const Source = Type.Object(
  {
    principals: Type.Optional(Type.Array(SpiffeId, { minItems: 1 })),
    namespaces: Type.Optional(Type.Array(Type.Union([DnsLabel, Type.Literal('*')]), { minItems: 1 })),
    // Plaintext callers (PERMISSIVE mode) have no principal; this matches them.
    unauthenticated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Operation = Type.Object(
  {
    methods: Type.Optional(Type.Array(HttpMethod, { minItems: 1 })),
    paths: Type.Optional(Type.Array(PathPattern, { minItems: 1 })),
  },
  { additionalProperties: false },
);

const Condition = Type.Object(
  {
    header: Type.String({ minLength: 1 }),
    values: Type.Array(Type.String(), { minItems: 1 }),
  },
  { additionalProperties: false },
);

const Rule = Type.Object(
  {
    from: Type.Optional(Type.Array(Source, { minItems: 1 })),
    to: Type.Optional(Type.Array(Operation, { minItems: 1 })),
    when: Type.Optional(Type.Array(Condition, { minItems: 1 })),
  },
  { additionalProperties: false },
);

export const AuthorizationPolicySpec = Type.Object(
  {
    // The service in this namespace the policy protects; omitted: every service in the namespace.
    service: Type.Optional(DnsLabel),
    action: Type.Union([Type.Literal('ALLOW'), Type.Literal('DENY')]),
    // An ALLOW policy with no rules allows nothing; a DENY policy with no rules denies nothing.
    rules: Type.Optional(Type.Array(Rule)),
  },
  { additionalProperties: false },
);
export type AuthorizationPolicySpec = Static<typeof AuthorizationPolicySpec>;
