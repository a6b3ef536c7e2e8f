// Identity service: a workload proves who it is (join token, Kubernetes service-account token, or its current certificate) and gets a certificate for exactly that identity.
import * as grpc from '@grpc/grpc-js';
import { err, ok, parseSpiffeId, spiffeIdsFromSubjectAltName, type CreateCertificateRequest__Output, type CreateCertificateResponse, type IdentityHandlers, type Logger, type Result } from '@tsmesh/proto';
import { isAdminIdentity } from '../ca/admin-identity.js';
import type { CertificateAuthority, SignErrorKind } from '../ca/authority.js';
import type { JoinTokens, RedeemErrorKind } from '../tokens/join-tokens.js';
import { TOKEN_PREFIX } from '../tokens/format.js';
import { proveServiceAccount, type Refusal, type TokenReviewer } from './service-account-token.js';

export interface IdentityServiceOptions {
  ca: CertificateAuthority;
  tokens: JoinTokens;
  trustDomain: string;
  logger: Logger;
  // Both optional: without them the CA's defaultWorkloadTtlMs and maxWorkloadTtlMs apply.
  defaultTtlMs?: number;
  maxTtlMs?: number;
  // In a Kubernetes cluster: checks service-account tokens with the TokenReview API. Absent, only join tokens are accepted.
  serviceAccountTokens?: TokenReviewer;
}

type Call = grpc.ServerUnaryCall<CreateCertificateRequest__Output, CreateCertificateResponse>;

// How the caller proved its identity; a token is only spent once the certificate is ready.
type Proof = { via: 'join-token'; spiffeId: string; token: string; tokenId: string } | { via: 'service-account-token'; spiffeId: string; username: string } | { via: 'certificate'; spiffeId: string };

// The one place where CA and token failures become gRPC statuses.
const SIGN_STATUS: Record<SignErrorKind, grpc.status> = {
  'malformed-csr': grpc.status.INVALID_ARGUMENT,
  'invalid-identity': grpc.status.INVALID_ARGUMENT,
  'invalid-ttl': grpc.status.INVALID_ARGUMENT,
  'wrong-trust-domain': grpc.status.PERMISSION_DENIED,
  'identity-mismatch': grpc.status.PERMISSION_DENIED,
  'ca-expired': grpc.status.FAILED_PRECONDITION,
};

const TOKEN_STATUS: Record<RedeemErrorKind, grpc.status> = {
  malformed: grpc.status.UNAUTHENTICATED,
  forged: grpc.status.UNAUTHENTICATED,
  expired: grpc.status.UNAUTHENTICATED,
  exhausted: grpc.status.PERMISSION_DENIED,
};

const NO_PROOF = 'present a join token (meshctl token create) or a valid workload certificate';
const NO_PROOF_IN_CLUSTER = "present a join token (meshctl token create), the pod's service-account token, or a valid workload certificate";
// Three dot-separated base64url parts: what every Kubernetes service-account token looks like.
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function refuse(code: grpc.status, message: string): { ok: false; error: Refusal } {
  return err({ code, message });
}

// The token says which kind it is: a join token starts with its prefix, anything else is a service-account token.
async function proveBearer(token: string, options: IdentityServiceOptions): Promise<Result<Proof, Refusal>> {
  if (!token.startsWith(TOKEN_PREFIX) && options.serviceAccountTokens) {
    const proved = await proveServiceAccount(token, options.serviceAccountTokens, options.trustDomain);
    return proved.ok ? ok({ via: 'service-account-token', ...proved.value }) : proved;
  }
  if (!token.startsWith(TOKEN_PREFIX) && JWT.test(token)) {
    return refuse(grpc.status.UNAUTHENTICATED, `this looks like a Kubernetes service-account token, but this control plane does not run in Kubernetes mode (mesh-control-plane serve --kubernetes); present a join token from 'meshctl token create' instead`);
  }
  const checked = options.tokens.inspect(token);
  if (!checked.ok) return refuse(TOKEN_STATUS[checked.error.kind], checked.error.message);
  return ok({ via: 'join-token', spiffeId: checked.value.spiffeId, token, tokenId: checked.value.tokenId });
}

async function prove(call: Call, options: IdentityServiceOptions): Promise<Result<Proof, Refusal>> {
  const authorization = call.metadata.get('authorization');
  if (authorization.length > 1) return refuse(grpc.status.UNAUTHENTICATED, 'send one authorization header, not several');
  const [header] = authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header.toString());
    if (!match?.[1]) return refuse(grpc.status.UNAUTHENTICATED, 'the authorization metadata must be "Bearer <join token or service-account token>"');
    return proveBearer(match[1], options);
  }
  // grpc-js fills this in only for a client certificate that chains to our trust bundle.
  const noProof = options.serviceAccountTokens ? NO_PROOF_IN_CLUSTER : NO_PROOF;
  const peer = call.getAuthContext().sslPeerCertificate;
  if (!peer) return refuse(grpc.status.UNAUTHENTICATED, noProof);
  const ids = spiffeIdsFromSubjectAltName(peer.subjectaltname);
  const [spiffeId] = ids;
  if (ids.length !== 1 || spiffeId === undefined) return refuse(grpc.status.UNAUTHENTICATED, `your client certificate must carry exactly one SPIFFE ID (found ${ids.length}); ${noProof}`);
  const parsed = parseSpiffeId(spiffeId);
  if (!parsed.ok) return refuse(grpc.status.PERMISSION_DENIED, `your client certificate's identity is not a workload identity: ${parsed.error}`);
  return ok({ via: 'certificate', spiffeId });
}

async function createCertificate(call: Call, options: IdentityServiceOptions): Promise<Result<CreateCertificateResponse, Refusal>> {
  const { ca, tokens, logger } = options;
  const requestedSeconds = Number(call.request.requested_ttl_seconds);
  if (!Number.isSafeInteger(requestedSeconds) || requestedSeconds < 0) {
    return refuse(grpc.status.INVALID_ARGUMENT, `requested_ttl_seconds must be 0 (the default lifetime) or positive; got ${call.request.requested_ttl_seconds}`);
  }
  // Left undefined, the CA's own default and maximum apply (one place to configure them).
  const requestedMs = requestedSeconds === 0 ? options.defaultTtlMs : requestedSeconds * 1000;
  const ttlMs = requestedMs !== undefined && options.maxTtlMs !== undefined ? Math.min(requestedMs, options.maxTtlMs) : requestedMs;
  const proof = await prove(call, options);
  if (!proof.ok) return proof;
  const { spiffeId } = proof.value;
  // meshctl's identity comes only from `mesh-control-plane init`, never from this API.
  if (isAdminIdentity(spiffeId, options.trustDomain)) return refuse(grpc.status.PERMISSION_DENIED, `${spiffeId} is the admin identity; this service does not issue or renew it`);
  // Signed before the token is spent: a bad CSR or a mismatched identity must not burn a single-use token.
  const signed = ca.signWorkload(call.request.csr_pem, { expectedSpiffeId: spiffeId, ...(ttlMs !== undefined ? { ttlMs } : {}) });
  if (!signed.ok) return refuse(SIGN_STATUS[signed.error.kind], signed.error.message);
  if (proof.value.via === 'join-token') {
    // Checked again, serialised and durably: another call may have spent the last use meanwhile.
    const redeemed = await tokens.redeem(proof.value.token);
    if (!redeemed.ok) return refuse(TOKEN_STATUS[redeemed.error.kind], redeemed.error.message);
  }
  const cert = signed.value;
  logger.info('issued workload certificate', {
    spiffeId,
    serial: cert.serialNumber,
    notAfter: cert.notAfter.toISOString(),
    via: proof.value.via,
    ...(proof.value.via === 'join-token' ? { tokenId: proof.value.tokenId } : {}),
    ...(proof.value.via === 'service-account-token' ? { serviceAccount: proof.value.username } : {}),
  });
  return ok({ cert_chain_pem: cert.certChainPem, trust_bundle_pem: cert.trustBundlePem, not_after_unix_ms: cert.notAfter.getTime(), spiffe_id: cert.spiffeId });
}

export function createIdentityHandlers(options: IdentityServiceOptions): IdentityHandlers {
  return {
    CreateCertificate(call, callback) {
      createCertificate(call, options).then(
        (result) => {
          if (result.ok) {
            callback(null, result.value);
            return;
          }
          options.logger.info('refused certificate request', { code: grpc.status[result.error.code], reason: result.error.message });
          callback({ code: result.error.code, details: result.error.message });
        },
        (error: unknown) => {
          options.logger.error('certificate request failed', { error: error instanceof Error ? error.stack : String(error) });
          callback({ code: grpc.status.INTERNAL, details: 'the control plane failed to issue the certificate; see its log' });
        },
      );
    },
  };
}
