// MeshConfig: mesh-wide settings (one object, named "default", not namespaced).
import { Type, type Static } from '@sinclair/typebox';

export const MeshConfigSpec = Type.Object(
  {
    trustDomain: Type.Optional(Type.String({ pattern: '^[a-z0-9._-]{1,255}$' })),
    mtls: Type.Optional(
      Type.Object(
        {
          // STRICT refuses plaintext; PERMISSIVE accepts it (for migration) as unauthenticated.
          mode: Type.Union([Type.Literal('STRICT'), Type.Literal('PERMISSIVE')]),
        },
        { additionalProperties: false },
      ),
    ),
    // Mesh-wide share of new traces sampled (0-100); a sidecar's --trace-sampling applies until set.
    tracing: Type.Optional(Type.Object({ samplingPercent: Type.Number({ minimum: 0, maximum: 100 }) }, { additionalProperties: false })),
    // What happens to a request no AuthorizationPolicy speaks of.
    defaultPolicy: Type.Optional(Type.Union([Type.Literal('allow-authenticated'), Type.Literal('deny')])),
  },
  { additionalProperties: false },
);
export type MeshConfigSpec = Static<typeof MeshConfigSpec>;
