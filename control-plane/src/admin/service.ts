// Admin API handlers: only callers with the mesh's admin identity get past the first line.
import * as grpc from '@grpc/grpc-js';
import type { AdminHandlers, Logger } from '@tsmesh/proto';
import { authorizeAdmin, serviceError } from './authorize.js';
import { createConfigHandlers } from './config-service.js';
import { createProxyConfigHandler } from './proxy-config.js';
import type { ConfigView } from '../discovery/config-view.js';
import type { EndpointRegistry } from '../discovery/registry.js';
import type { ConfigStore } from '../store/index.js';
import type { JoinTokens } from '../tokens/index.js';
import type { ProxyTracker } from '../discovery/proxy-tracker.js';

export interface AdminContext {
  trustDomain: string;
  tokens: JoinTokens;
  tracker: ProxyTracker;
  store: ConfigStore;
  config: ConfigView;
  registry: EndpointRegistry;
  logger: Logger;
}

export function createAdminHandlers(ctx: AdminContext): AdminHandlers {
  return {
    ...createConfigHandlers({ trustDomain: ctx.trustDomain, store: ctx.store, logger: ctx.logger }),
    GetProxyConfig: createProxyConfigHandler(ctx),
    CreateJoinToken(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const request = call.request;
      const minted = ctx.tokens.mint({
        namespace: request.namespace,
        serviceAccount: request.service_account,
        ttlMs: request.ttl_seconds * 1000,
        maxUses: request.max_uses || 1,
        trustDomain: ctx.trustDomain,
      });
      if (!minted.ok) return callback(serviceError(grpc.status.INVALID_ARGUMENT, minted.error));
      ctx.logger.info('join token created', { by: auth.caller, spiffeId: minted.value.spiffeId, tokenId: minted.value.tokenId, expires: minted.value.expiresAt.toISOString() });
      callback(null, { token: minted.value.token, token_id: minted.value.tokenId, spiffe_id: minted.value.spiffeId, expires_unix_ms: minted.value.expiresAt.getTime() });
    },
    ListProxies(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      callback(null, { proxies: ctx.tracker.toProto() });
    },
  };
}
