// The admin API's one gate: the caller's verified certificate must carry the mesh admin identity.
import * as grpc from '@grpc/grpc-js';
import { formatSpiffeId, spiffeIdsFromSubjectAltName } from '@tsmesh/proto';
import { MESH_SYSTEM_NAMESPACE, ADMIN_SA } from '../ca/index.js';

type CallWithAuth = { getAuthContext(): { sslPeerCertificate?: { subjectaltname?: string } } };

export function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

// Returns the admin's SPIFFE ID, or the error to answer with.
export function authorizeAdmin(call: CallWithAuth, trustDomain: string): { ok: true; caller: string } | { ok: false; error: grpc.ServiceError } {
  const expected = formatSpiffeId({ trustDomain, namespace: MESH_SYSTEM_NAMESPACE, serviceAccount: ADMIN_SA });
  const ids = spiffeIdsFromSubjectAltName(call.getAuthContext().sslPeerCertificate?.subjectaltname);
  if (ids.length === 0) {
    return { ok: false, error: serviceError(grpc.status.UNAUTHENTICATED, 'the admin API needs the admin client certificate (meshctl reads it from ~/.meshctl/config, MESHCTL_CONFIG or --config)') };
  }
  if (!ids.includes(expected)) {
    return { ok: false, error: serviceError(grpc.status.PERMISSION_DENIED, `${ids.join(', ')} is not the admin identity ${expected}; workload identities cannot use the admin API`) };
  }
  return { ok: true, caller: expected };
}
