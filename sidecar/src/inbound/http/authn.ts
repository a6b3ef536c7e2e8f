// Authn layer: only a workload of our trust domain, proven by its verified certificate, gets past here.
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId } from '@tsmesh/proto';
import { UnauthenticatedError } from '../../errors.js';
import { peerSpiffeId } from '../../transport/tls-options.js';
import type { InboundLayer, PeerCheck } from './types.js';

// Run once per TLS session; the chain itself was already verified against the trust bundle by the handshake.
export function checkPeer(cert: PeerCertificate | undefined, trustDomain: string): PeerCheck {
  const peer = peerSpiffeId(cert);
  if (!peer.ok) return peer;
  const parsed = parseSpiffeId(peer.id);
  if (!parsed.ok) return { ok: false, reason: `presented ${peer.id}, which is not a workload identity` };
  if (parsed.value.trustDomain !== trustDomain) return { ok: false, reason: `presented ${peer.id}, which is outside trust domain ${trustDomain}` };
  return { ok: true, id: peer.id };
}

export function authnLayer(): InboundLayer {
  return (next) => (req) => {
    // Plaintext has no identity to check; authz decides whether unauthenticated callers may pass.
    if (req.plaintext) return next(req);
    const peer = req.peer;
    if (!peer.ok) return Promise.reject(new UnauthenticatedError(`inbound/authn: the peer ${peer.reason}`));
    req.peerId = peer.id;
    return next(req);
  };
}
