// GetProxyConfig: the effective config of one sidecar as the control plane sent it, for meshctl proxy-config.
import * as grpc from '@grpc/grpc-js';
import { TYPE_URLS, type AdminHandlers } from '@tsmesh/proto';
import type { ProxyTracker, ConnectedProxy } from '../discovery/proxy-tracker.js';
import type { ConfigView } from '../discovery/config-view.js';
import type { EndpointRegistry } from '../discovery/registry.js';
import { authorizeAdmin, serviceError } from './authorize.js';

export interface ProxyConfigContext {
  trustDomain: string;
  tracker: ProxyTracker;
  config: ConfigView;
  registry: EndpointRegistry;
}

function findProxy(tracker: ProxyTracker, query: string): ConnectedProxy | undefined {
  return tracker.get(query) ?? tracker.list().find((p) => `${p.service}.${p.namespace}` === query);
}

function split(key: string): [string, string] {
  const dot = key.indexOf('.');
  return [key.slice(0, dot), key.slice(dot + 1)];
}

export function describeProxy(proxy: ConnectedProxy, ctx: ProxyConfigContext): unknown {
  const types = Object.fromEntries([...proxy.types.values()].map((t) => [t.typeUrl.split('.').pop() ?? t.typeUrl, { state: t.state, versionSent: t.versionSent, versionAcked: t.versionAcked, error: t.error || undefined, names: t.names }]));
  const called = proxy.types.get(TYPE_URLS.endpoints)?.names ?? [];
  return {
    node: proxy.nodeId,
    identity: proxy.spiffeId,
    service: proxy.service ? `${proxy.service}.${proxy.namespace}` : null,
    inboundAddress: proxy.inboundAddress || null,
    connectedAt: new Date(proxy.connectedAt).toISOString(),
    types,
    inboundPolicy: proxy.service ? ctx.config.inboundPolicy(proxy.service, proxy.namespace) : null,
    routes: Object.fromEntries(called.map((key) => {
      const [service, namespace] = split(key);
      const routes = ctx.config.serviceRoutes(service, namespace);
      return [key, { httpRoutes: routes.httpRoutes, destinationPolicy: routes.destinationPolicy }];
    })),
    endpoints: Object.fromEntries(called.map((key) => [key, ctx.registry.endpoints(key) ?? null])),
  };
}

export function createProxyConfigHandler(ctx: ProxyConfigContext): AdminHandlers['GetProxyConfig'] {
  return (call, callback) => {
    const auth = authorizeAdmin(call, ctx.trustDomain);
    if (!auth.ok) return callback(auth.error);
    const proxy = findProxy(ctx.tracker, call.request.proxy);
    if (!proxy) return callback(serviceError(grpc.status.NOT_FOUND, `no connected sidecar "${call.request.proxy}" (give a node id or <service>.<namespace>; see meshctl proxy-status)`));
    callback(null, { config_json: JSON.stringify(describeProxy(proxy, ctx)) });
  };
}
