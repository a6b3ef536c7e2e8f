// PKCS#10 requests for a workload key with its SPIFFE ID as URI SAN, built in DER and signed by node:crypto.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { bitString, contextConstructed, contextPrimitive, octetString, oid, printableString, sequence, set, SHA256_WITH_RSA_ALGORITHM, smallInteger, toPem } from './der.js';

export interface CsrRequest {
  privateKeyPem: string;
  publicKeyPem: string;
  spiffeId: string;
}

const OID = {
  organizationName: '2.5.4.10',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
};

// The same structure node-forge produced (O=tsmesh, one non-critical SAN extension), so the CA sees no difference.
export function createCsr(request: CsrRequest): string {
  const subject = sequence(set(sequence(oid(OID.organizationName), printableString('tsmesh'))));
  const publicKeyInfo = createPublicKey(request.publicKeyPem).export({ type: 'spki', format: 'der' });
  const san = sequence(contextPrimitive(6, Buffer.from(request.spiffeId, 'latin1')));
  const extensions = sequence(sequence(oid(OID.subjectAltName), octetString(san)));
  const attributes = contextConstructed(0, sequence(oid(OID.extensionRequest), set(extensions)));
  const info = sequence(smallInteger(0), subject, publicKeyInfo, attributes);
  const signature = sign('sha256', info, createPrivateKey(request.privateKeyPem));
  return toPem(sequence(info, SHA256_WITH_RSA_ALGORITHM, bitString(signature)), 'CERTIFICATE REQUEST');
}
