// meshctl proxy-config and explain: what one sidecar was told, and what a request would meet and why.
import YAML from 'yaml';
import {
  authorize,
  defaultPlan,
  formatSpiffeId,
  routeTable,
  type AuthorizationPolicyResource,
  type DestinationPolicyResource,
  type HTTPRouteResource,
  type MeshConfigResource,
  type RateLimitPolicyResource,
  type ServiceRoutes,
} from '@tsmesh/proto';
import type { AdminClient } from './admin-client.js';
import { EXIT, UsageError, type Io, type Options } from './commands.js';

export interface InspectOptions extends Options {
  method?: string;
  header?: string[];
}

type Stored = { kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> };

function serviceRef(text: string | undefined, fallbackNamespace: string, what: string): { name: string; namespace: string } {
  if (!text) throw new UsageError(`explain needs a ${what} service: <service>[.<namespace>]`);
  const [name = '', namespace = fallbackNamespace] = text.split('.');
  if (!/^[a-z0-9-]+$/.test(name)) throw new UsageError(`${what}: "${text}" is not <service>[.<namespace>]`);
  return { name, namespace };
}

export async function proxyConfigCommand(client: AdminClient, io: Io, options: Options, proxy?: string): Promise<number> {
  if (!proxy) throw new UsageError('proxy-config needs a node id or <service>.<namespace> (see meshctl proxy-status)');
  const format = options.output ?? 'yaml';
  if (!['yaml', 'json'].includes(format)) throw new UsageError(`-o ${format}: choose yaml or json`);
  const config = await client.getProxyConfig(proxy);
  io.out(format === 'json' ? `${JSON.stringify(config, null, 2)}\n` : YAML.stringify(config));
  return EXIT.ok;
}

export async function explainCommand(client: AdminClient, io: Io, options: InspectOptions, sourceText?: string, destinationText?: string, path = '/'): Promise<number> {
  const namespace = options.namespace ?? 'default';
  const destination = serviceRef(destinationText, namespace, 'destination');
  const method = (options.method ?? 'GET').toUpperCase();
  const headers = new Map((options.header ?? []).map((h) => {
    const eq = h.indexOf('=');
    if (eq < 1) throw new UsageError(`--header "${h}": use name=value`);
    return [h.slice(0, eq).toLowerCase(), h.slice(eq + 1)] as const;
  }));
  const [stored, { proxies }] = await Promise.all([client.get({}), client.listProxies()]);
  const resources = stored.resources_json.map((r) => JSON.parse(r) as Stored);
  const of = <T>(kind: string, ns: string | null, service?: string): T[] =>
    resources.filter((r) => r.kind === kind && (ns === null || r.metadata.namespace === ns) && (service === undefined || (r.spec['service'] as string | undefined) === service)) as unknown as T[];
  const trustDomain = proxies[0]?.spiffe_id.split('/')[2] ?? 'cluster.local';
  let principal: string | undefined;
  if (sourceText?.startsWith('spiffe://')) principal = sourceText;
  else {
    const source = serviceRef(sourceText, namespace, 'source');
    principal = proxies.find((p) => p.service === source.name && p.namespace === source.namespace)?.spiffe_id ?? formatSpiffeId({ trustDomain, namespace: source.namespace, serviceAccount: source.name });
  }
  const line = (text = ''): void => io.out(`${text}\n`);
  line(`${method} http://${destination.name}.${destination.namespace}${path}  from ${principal}`);
  line();
  const routes: ServiceRoutes = { service: destination.name, namespace: destination.namespace, httpRoutes: of<HTTPRouteResource>('HTTPRoute', destination.namespace, destination.name), destinationPolicy: null };
  const plan = routeTable(routes).select({ method, path, header: (n) => headers.get(n) }) ?? defaultPlan(destination);
  line(`Route: ${plan.name === 'default' ? `default (${routes.httpRoutes.length} HTTPRoute(s) for the service, none matched)`.replace('(0 HTTPRoute(s) for the service, none matched)', '(no HTTPRoute for the service)') : plan.name}`);
  line(`  backends: ${plan.backends.map((b) => `${b.service.name}.${b.service.namespace} (weight ${b.weight})`).join(', ')}`);
  line(`  timeout: ${plan.requestTimeoutMs ?? 'default 15000'} ms, per try: ${plan.perTryTimeoutMs ?? '-'} ms, retries: ${plan.retry.retries} on ${[...plan.retry.on].join(',')}${plan.fault ? `, FAULT: ${JSON.stringify(plan.fault)}` : ''}`);
  const mesh = (of<MeshConfigResource>('MeshConfig', null)[0] ?? null);
  let refusal: string | undefined;
  for (const backend of plan.backends) {
    const key = `${backend.service.name}.${backend.service.namespace}`;
    line();
    line(`Backend ${key}:`);
    const policy = of<DestinationPolicyResource>('DestinationPolicy', backend.service.namespace, backend.service.name)[0];
    line(`  DestinationPolicy: ${policy ? `${policy.metadata.name} ${JSON.stringify(policy.spec)}` : 'none (round robin, default limits)'}`);
    const endpoints = proxies.filter((p) => p.service === backend.service.name && p.namespace === backend.service.namespace && p.inbound_address);
    line(`  endpoints: ${endpoints.length === 0 ? 'NONE' : endpoints.map((p) => `${p.inbound_address} (${p.spiffe_id})`).join(', ')}`);
    if (endpoints.length === 0) refusal ??= `503 MESH_ERR_NO_ENDPOINTS: ${key} has no live endpoint`;
    const authz = of<AuthorizationPolicyResource>('AuthorizationPolicy', backend.service.namespace).filter((p) => (p.spec.service ?? backend.service.name) === backend.service.name);
    const decision = authorize({ principal, method, path, header: (n) => headers.get(n) }, authz, mesh);
    line(`  AuthorizationPolicies: ${authz.length === 0 ? 'none' : authz.map((p) => `${p.metadata.namespace}/${p.metadata.name} (${p.spec.action})`).join(', ')}; mesh default ${mesh?.spec.defaultPolicy ?? 'allow-authenticated'}, mTLS ${mesh?.spec.mtls?.mode ?? 'STRICT'}`);
    line(`  authorization: ${decision.allowed ? `ALLOWED${decision.policy ? ` by ${decision.policy}` : ''}` : `DENIED: ${decision.reason}`}`);
    if (!decision.allowed) refusal ??= `403 MESH_ERR_FORBIDDEN: ${decision.reason}`;
    const rate = of<RateLimitPolicyResource>('RateLimitPolicy', backend.service.namespace, backend.service.name)[0];
    if (rate) line(`  RateLimitPolicy: ${rate.metadata.name} ${JSON.stringify(rate.spec)} (over it: 429 with Retry-After)`);
  }
  line();
  if (plan.fault?.abort?.percent === 100) refusal ??= `${plan.fault.abort.status} MESH_ERR_FAULT_INJECTED by route ${plan.name}`;
  line(refusal ? `Verdict: REFUSED with ${refusal}` : 'Verdict: would be forwarded');
  return refusal ? EXIT.failed : EXIT.ok;
}
