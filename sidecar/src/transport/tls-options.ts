// TLS settings shared by both ends of a sidecar-to-sidecar connection: TLS 1.3 only, SPIFFE ID as the identity.
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import { spiffeIdsFromSubjectAltName } from '@tsmesh/proto';
import type { TlsMaterial } from '../identity/tls-material.js';
import { TlsIdentityError } from '../errors.js';

export const TLS_VERSION = 'TLSv1.3';

export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    key: material.keyPem,
    cert: material.certChainPem,
    ca: material.trustBundlePem,
    minVersion: TLS_VERSION,
    maxVersion: TLS_VERSION,
  };
}

// The peer's single SPIFFE ID, or why it has none; SPIFFE allows exactly one URI SAN per SVID.
export function peerSpiffeId(cert: PeerCertificate | undefined): { ok: true; id: string } | { ok: false; reason: string } {
  if (!cert || Object.keys(cert).length === 0) return { ok: false, reason: 'presented no certificate' };
  const ids = spiffeIdsFromSubjectAltName(cert.subjectaltname);
  if (ids.length === 1 && ids[0] !== undefined) return { ok: true, id: ids[0] };
  return { ok: false, reason: ids.length === 0 ? 'presented a certificate with no SPIFFE ID' : `presented a certificate with ${ids.length} SPIFFE IDs (${ids.join(', ')})` };
}

// Used as checkServerIdentity: the chain is already verified, and the hostname means nothing in the mesh.
export function expectIdentity(expected: string, address: string): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (_hostname, cert) => {
    const peer = peerSpiffeId(cert);
    if (peer.ok && peer.id === expected) return undefined;
    const got = peer.ok ? peer.id : peer.reason;
    return new TlsIdentityError(`outbound/tls: ${address} is not ${expected}: it presented ${got}`);
  };
}
