// Admin API handlers: only callers with the mesh's admin identity get past the first line.
import * as grpc from '@grpc/grpc-js';
import { formatSpiffeId, spiffeIdsFromSubjectAltName, type AdminHandlers, type Logger } from '@tsmesh/proto';
import { MESH_SYSTEM_NAMESPACE, ADMIN_SA } from '../ca/index.js';
import type { JoinTokens } from '../tokens/index.js';
import type { ProxyTracker } from '../discovery/proxy-tracker.js';

export interface AdminContext {
  trustDomain: string;
  tokens: JoinTokens;
  tracker: ProxyTracker;
  logger: Logger;
}

type AnyCall = { getAuthContext(): { sslPeerCertificate?: { subjectaltname?: string } } };

// Returns the admin's SPIFFE ID, or the error to answer with.
function authorizeAdmin(call: AnyCall, trustDomain: string): { ok: true; caller: string } | { ok: false; error: grpc.ServiceError } {
  const expected = formatSpiffeId({ trustDomain, namespace: MESH_SYSTEM_NAMESPACE, serviceAccount: ADMIN_SA });
  const ids = spiffeIdsFromSubjectAltName(call.getAuthContext().sslPeerCertificate?.subjectaltname);
  if (ids.length === 0) {
    return { ok: false, error: serviceError(grpc.status.UNAUTHENTICATED, 'the admin API needs the admin client certificate (meshctl reads it from ~/.meshctl/config, MESHCTL_CONFIG or --config)') };
  }
  if (!ids.includes(expected)) {
    return { ok: false, error: serviceError(grpc.status.PERMISSION_DENIED, `${ids.join(', ')} is not the admin identity ${expected}`) };
  }
  return { ok: true, caller: expected };
}

function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

export function createAdminHandlers(ctx: AdminContext): AdminHandlers {
  return {
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
