// A Kubernetes service-account token as bootstrap proof: the API server's TokenReview says whose it is and for which audience.
import * as grpc from '@grpc/grpc-js';
import { err, formatSpiffeId, isValidName, ok, type Result } from '@tsmesh/proto';
import { MESH_SYSTEM_NAMESPACE } from '../ca/admin-identity.js';

// What the TokenReview answered (status), in the terms this check needs.
export interface TokenReviewStatus {
  authenticated: boolean;
  username: string;
  audiences: string[];
  error: string;
}

export interface TokenReviewer {
  // The audience the sidecar's projected token must be minted for.
  audience: string;
  // Throws when the API server could not be asked (that is not the token's fault).
  review(token: string): Promise<TokenReviewStatus>;
}

export interface Refusal {
  code: grpc.status;
  message: string;
}

export interface ServiceAccountProof {
  spiffeId: string;
  username: string;
}

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;
// Far above a real projected token (about 1 KiB); bounds what an unauthenticated caller makes us send on.
const MAX_TOKEN_LENGTH = 16_384;

function refuse(code: grpc.status, message: string): { ok: false; error: Refusal } {
  return err({ code, message });
}

export async function proveServiceAccount(token: string, reviewer: TokenReviewer, trustDomain: string): Promise<Result<ServiceAccountProof, Refusal>> {
  const mount = `mount a projected service-account token with audience "${reviewer.audience}" (the injector does)`;
  if (token.length > MAX_TOKEN_LENGTH) return refuse(grpc.status.UNAUTHENTICATED, `the service-account token is ${token.length} characters long, more than any real one; ${mount}`);
  let status: TokenReviewStatus;
  try {
    status = await reviewer.review(token);
  } catch (error) {
    return refuse(grpc.status.UNAVAILABLE, `could not check the service-account token with the Kubernetes API server (TokenReview): ${error instanceof Error ? error.message : String(error)}; try again`);
  }
  if (!status.authenticated) {
    return refuse(grpc.status.UNAUTHENTICATED, `the Kubernetes API server did not accept the service-account token${status.error ? `: ${status.error}` : ''}; ${mount}`);
  }
  // An authenticator that ignores audiences answers without any: the token may be meant for the API server itself.
  if (!status.audiences.includes(reviewer.audience)) {
    const audiences = status.audiences.length > 0 ? `audiences ${status.audiences.map((a) => JSON.stringify(a)).join(', ')}` : 'no audience';
    return refuse(grpc.status.UNAUTHENTICATED, `the service-account token is valid for ${audiences}, not "${reviewer.audience}"; ${mount}`);
  }
  const match = SERVICE_ACCOUNT_USER.exec(status.username);
  const [, namespace = '', serviceAccount = ''] = match ?? [];
  if (!match) return refuse(grpc.status.PERMISSION_DENIED, `the token belongs to "${status.username}", which is not a service account (system:serviceaccount:<namespace>:<name>); only pods' service-account tokens are accepted`);
  if (!isValidName(namespace) || !isValidName(serviceAccount)) return refuse(grpc.status.PERMISSION_DENIED, `service account ${namespace}/${serviceAccount} is not made of DNS-1123 labels, so it has no SPIFFE ID`);
  // The control plane's and meshctl's identities live there; a pod running as one of them must not get its certificate.
  if (namespace === MESH_SYSTEM_NAMESPACE) return refuse(grpc.status.PERMISSION_DENIED, `service accounts in ${MESH_SYSTEM_NAMESPACE} are the mesh's own and get no workload certificate (token of ${status.username})`);
  return ok({ spiffeId: formatSpiffeId({ trustDomain, namespace, serviceAccount }), username: status.username });
}
