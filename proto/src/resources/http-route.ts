// HTTPRoute: how requests to a service are matched and sent to weighted backends, with timeouts, retries, faults.
import { Type, type Static } from '@sinclair/typebox';
import { DnsLabel, Duration, HttpMethod, Percent } from './common.js';

const PathMatch = Type.Object(
  {
    type: Type.Union([Type.Literal('PathPrefix'), Type.Literal('Exact'), Type.Literal('RegularExpression')]),
    value: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

const HeaderMatch = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }),
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('RegularExpression'), Type.Literal('Present')])),
    value: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const RouteMatch = Type.Object(
  {
    path: Type.Optional(PathMatch),
    method: Type.Optional(HttpMethod),
    headers: Type.Optional(Type.Array(HeaderMatch)),
  },
  { additionalProperties: false },
);

const Backend = Type.Object(
  {
    service: DnsLabel,
    namespace: Type.Optional(DnsLabel),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export const RetryOn = Type.Union([
  Type.Literal('connect-failure'),
  Type.Literal('refused-stream'),
  Type.Literal('reset'),
  Type.Literal('gateway-error'),
  Type.Literal('5xx'),
  Type.String({ pattern: '^[1-5][0-9][0-9]$' }),
]);

const Retries = Type.Object(
  {
    attempts: Type.Integer({ minimum: 0, maximum: 10 }),
    on: Type.Optional(Type.Array(RetryOn)),
    perTryTimeout: Type.Optional(Duration),
    backoff: Type.Optional(Type.Object({ base: Duration, max: Duration }, { additionalProperties: false })),
    // POST and PATCH are retried only when the route says the service can take it.
    retryNonIdempotent: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Fault = Type.Object(
  {
    delay: Type.Optional(Type.Object({ percent: Percent, duration: Duration }, { additionalProperties: false })),
    abort: Type.Optional(Type.Object({ percent: Percent, status: Type.Integer({ minimum: 200, maximum: 599 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const RouteRule = Type.Object(
  {
    name: Type.Optional(DnsLabel),
    matches: Type.Optional(Type.Array(RouteMatch)),
    backends: Type.Optional(Type.Array(Backend, { minItems: 1 })),
    timeouts: Type.Optional(Type.Object({ request: Type.Optional(Duration), perTry: Type.Optional(Duration) }, { additionalProperties: false })),
    retries: Type.Optional(Retries),
    fault: Type.Optional(Fault),
  },
  { additionalProperties: false },
);

export const HTTPRouteSpec = Type.Object(
  {
    // The service (in this namespace) whose callers this route applies to.
    service: DnsLabel,
    rules: Type.Array(RouteRule, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type HTTPRouteSpec = Static<typeof HTTPRouteSpec>;
