// The shapes of configuration pushed to sidecars as config_json, and their validation on arrival.
import { validateResource, formatPath, type MeshConfigResource, type AuthorizationPolicyResource, type RateLimitPolicyResource, type HTTPRouteResource, type DestinationPolicyResource } from './validate.js';
import { ok, err, type Result } from '../result.js';

export interface InboundPolicy {
  service: string;
  namespace: string;
  meshConfig: MeshConfigResource | null;
  authorizationPolicies: AuthorizationPolicyResource[];
  rateLimitPolicy: RateLimitPolicyResource | null;
}

export interface ServiceRoutes {
  service: string;
  namespace: string;
  httpRoutes: HTTPRouteResource[];
  destinationPolicy: DestinationPolicyResource | null;
}

function checkAll<T>(items: unknown, kind: string, where: string): Result<T[], string> {
  if (!Array.isArray(items)) return err(`${where}: expected a list of ${kind}`);
  const out: T[] = [];
  for (const [i, item] of items.entries()) {
    const result = validateResource(item);
    if (!result.ok) return err(`${where}[${i}]: ${result.error.map((e) => `${formatPath(e.path)}: ${e.message}`).join('; ')}`);
    if (result.value.kind !== kind) return err(`${where}[${i}]: expected ${kind}, got ${result.value.kind}`);
    out.push(result.value as T);
  }
  return ok(out);
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function parseObject(bytes: Buffer | Uint8Array | string, what: string): Result<Record<string, unknown>, string> {
  try {
    const value: unknown = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return err(`${what}: expected a JSON object`);
    return ok(value as Record<string, unknown>);
  } catch (error) {
    return err(`${what}: not JSON: ${(error as Error).message}`);
  }
}

export function decodeInboundPolicy(bytes: Buffer | Uint8Array | string): Result<InboundPolicy, string> {
  const parsed = parseObject(bytes, 'inbound policy');
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  const meshConfig = v['meshConfig'] == null ? ok([]) : checkAll<MeshConfigResource>([v['meshConfig']], 'MeshConfig', 'meshConfig');
  if (!meshConfig.ok) return meshConfig;
  const authz = checkAll<AuthorizationPolicyResource>(v['authorizationPolicies'] ?? [], 'AuthorizationPolicy', 'authorizationPolicies');
  if (!authz.ok) return authz;
  const rate = v['rateLimitPolicy'] == null ? ok([]) : checkAll<RateLimitPolicyResource>([v['rateLimitPolicy']], 'RateLimitPolicy', 'rateLimitPolicy');
  if (!rate.ok) return rate;
  return ok({ service: text(v['service']), namespace: text(v['namespace']), meshConfig: meshConfig.value[0] ?? null, authorizationPolicies: authz.value, rateLimitPolicy: rate.value[0] ?? null });
}

export function decodeServiceRoutes(bytes: Buffer | Uint8Array | string): Result<ServiceRoutes, string> {
  const parsed = parseObject(bytes, 'service routes');
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  const routes = checkAll<HTTPRouteResource>(v['httpRoutes'] ?? [], 'HTTPRoute', 'httpRoutes');
  if (!routes.ok) return routes;
  const policy = v['destinationPolicy'] == null ? ok([]) : checkAll<DestinationPolicyResource>([v['destinationPolicy']], 'DestinationPolicy', 'destinationPolicy');
  if (!policy.ok) return policy;
  return ok({ service: text(v['service']), namespace: text(v['namespace']), httpRoutes: routes.value, destinationPolicy: policy.value[0] ?? null });
}
