// SPIFFE IDs for workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// DNS-1123 labels, as Kubernetes names namespaces and service accounts.
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Trust domains are lower-case DNS-like names (SPIFFE spec: letters, digits, dot, dash, underscore).
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

export function isValidName(value: string): boolean {
  return NAME.test(value);
}

export function isValidTrustDomain(value: string): boolean {
  return TRUST_DOMAIN.test(value);
}

export function formatSpiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseSpiffeId(uri: string): ParseResult<WorkloadIdentity> {
  const match = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!match) {
    return { ok: false, error: `"${uri}" is not a workload SPIFFE ID (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)` };
  }
  const [, trustDomain = '', namespace = '', serviceAccount = ''] = match;
  if (!isValidTrustDomain(trustDomain)) return { ok: false, error: `trust domain "${trustDomain}" in "${uri}" is not a valid trust domain` };
  if (!isValidName(namespace)) return { ok: false, error: `namespace "${namespace}" in "${uri}" is not a DNS-1123 label` };
  if (!isValidName(serviceAccount)) return { ok: false, error: `service account "${serviceAccount}" in "${uri}" is not a DNS-1123 label` };
  return { ok: true, value: { trustDomain, namespace, serviceAccount } };
}

// Node's X509Certificate.subjectAltName and TLS peer certificates render SANs as "URI:spiffe://..., DNS:...".
export function spiffeIdsFromSubjectAltName(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:spiffe://'))
    .map((entry) => entry.slice('URI:'.length));
}

// checkServerIdentity for whatever dials the control plane: the chain is verified already, and the identity is
// its SPIFFE ID, not the host name it was dialled by.
export function expectControlPlane(expected: string, what = 'the server'): (host: string, cert: { subjectaltname?: string | undefined }) => Error | undefined {
  return (_host, cert) => {
    const ids = spiffeIdsFromSubjectAltName(cert.subjectaltname);
    return ids.includes(expected) ? undefined : new Error(`${what} presented ${ids.join(', ') || 'no SPIFFE ID'}, not the control plane ${expected}`);
  };
}
