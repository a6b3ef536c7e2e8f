// Who may use the stream server, from the verified client certificate: sidecars on /v1/sidecar, only the admin on /v1/tap and /v1/stats.
import type { TLSSocket } from 'node:tls';
import { parseSpiffeId, spiffeIdsFromSubjectAltName, type WorkloadIdentity } from '@tsmesh/proto';
import { adminSpiffeId } from '../ca/index.js';

export type PeerDecision<T> = { ok: true; value: T } | { ok: false; status: 401 | 403; reason: string };

function peerIds(socket: TLSSocket): string[] {
  // With requestCert and rejectUnauthorized, a certificate here has been verified against the mesh roots.
  return spiffeIdsFromSubjectAltName(socket.getPeerCertificate().subjectaltname);
}

export function authorizeAdminPeer(socket: TLSSocket, trustDomain: string): PeerDecision<string> {
  const expected = adminSpiffeId(trustDomain);
  const ids = peerIds(socket);
  if (ids.length === 0) return { ok: false, status: 401, reason: 'tap and stats need the admin client certificate (meshctl reads it from ~/.meshctl/config, MESHCTL_CONFIG or --config)' };
  if (!ids.includes(expected)) return { ok: false, status: 403, reason: `${ids.join(', ')} is not the admin identity ${expected}; workload identities cannot tap traffic or read stats` };
  return { ok: true, value: expected };
}

export function authorizeSidecarPeer(socket: TLSSocket, trustDomain: string): PeerDecision<{ spiffeId: string; identity: WorkloadIdentity }> {
  const ids = peerIds(socket);
  for (const spiffeId of ids) {
    const parsed = parseSpiffeId(spiffeId);
    if (!parsed.ok || parsed.value.trustDomain !== trustDomain) continue;
    // The admin certificate is for operators; it does not get to pose as a sidecar and feed taps.
    if (spiffeId === adminSpiffeId(trustDomain)) return { ok: false, status: 403, reason: 'the admin identity cannot register as a sidecar' };
    return { ok: true, value: { spiffeId, identity: parsed.value } };
  }
  return { ok: false, status: 403, reason: `a sidecar needs a workload certificate of trust domain ${trustDomain}; got ${ids.join(', ') || 'no SPIFFE ID'}` };
}
