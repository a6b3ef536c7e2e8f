// Certificate building for the CA: the PEM normalised to LF line endings, and parsed once for its fields.
import { X509Certificate } from 'node:crypto';
import { buildCertificate, type CertificateSpec } from '@tsmesh/proto';
import { normalizePem } from './chain.js';

export interface BuiltCertificate {
  pem: string;
  cert: X509Certificate;
}

export function buildParsableCertificate(spec: CertificateSpec): BuiltCertificate {
  const pem = normalizePem(buildCertificate(spec));
  return { pem, cert: new X509Certificate(pem) };
}
