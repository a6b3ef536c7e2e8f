// Checks that a CA certificate, its key and its chain up to a root belong together.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { splitPemBundle } from '@tsmesh/proto';
import { CaSetupError } from './errors.js';
import { MAX_CLOCK_SKEW_MS } from './lifetime.js';

export interface CaMaterial {
  // The certificate that signs workloads: the root itself, or an intermediate below it.
  signingCertPem: string;
  signingKeyPem: string;
  // Between the signing certificate and the root, nearest first; roots excluded.
  intermediatesPem: string[];
  rootsPem: string[];
}

// forge writes CRLF, node:crypto LF: one form, so that equal certificates compare equal as strings.
export function normalizePem(pem: string): string {
  const lf = pem.replace(/\r\n/g, '\n');
  return lf.endsWith('\n') ? lf : `${lf}\n`;
}

export function normalizeMaterial(material: CaMaterial): CaMaterial {
  return {
    signingCertPem: normalizePem(material.signingCertPem),
    signingKeyPem: normalizePem(material.signingKeyPem),
    intermediatesPem: material.intermediatesPem.map(normalizePem),
    rootsPem: material.rootsPem.map(normalizePem),
  };
}

export function parseCertificates(pem: string, what: string): X509Certificate[] {
  const pems = splitPemBundle(pem);
  if (pems.length === 0) throw new CaSetupError(`${what} holds no PEM certificate`);
  return pems.map((one, index) => {
    try {
      return new X509Certificate(one);
    } catch (error) {
      throw new CaSetupError(`${what}: certificate #${index + 1} cannot be parsed: ${(error as Error).message}`);
    }
  });
}

export function subjectOf(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
}

export function parsePrivateKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new CaSetupError(`${what} is not a readable unencrypted PEM private key: ${(error as Error).message}`);
  }
  // buildCertificate labels every signature sha256WithRSAEncryption.
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CaSetupError(`${what} is a ${key.asymmetricKeyType ?? 'unknown'} key; the tsmesh CA signs with RSA keys only`);
  }
  return key;
}

function checkCurrent(cert: X509Certificate, what: string, nowMs: number): void {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (notAfter.getTime() <= nowMs) throw new CaSetupError(`${what} (${subjectOf(cert)}) expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > nowMs + MAX_CLOCK_SKEW_MS) {
    throw new CaSetupError(`${what} (${subjectOf(cert)}) is not valid before ${notBefore.toISOString()}`);
  }
}

export interface SuppliedCa {
  certPem: string;
  keyPem: string;
  // The certificates above certPem up to and including the self-signed root.
  chainPem?: string;
}

// An operator's root or intermediate: a CA certificate, with its own key, current, chained to a root.
export function validateSuppliedCa(supplied: SuppliedCa, nowMs: number): CaMaterial {
  const [signing, ...rest] = [...parseCertificates(supplied.certPem, 'the supplied CA certificate'), ...(supplied.chainPem ? parseCertificates(supplied.chainPem, 'the supplied CA chain') : [])];
  if (!signing) throw new CaSetupError('the supplied CA certificate holds no PEM certificate');
  if (!signing.ca) {
    throw new CaSetupError(`the supplied certificate (${subjectOf(signing)}) is not a CA certificate (basicConstraints CA is not true)`);
  }
  const key = parsePrivateKey(supplied.keyPem, 'the supplied CA key');
  if (!signing.checkPrivateKey(key)) {
    throw new CaSetupError(`the supplied CA key does not match the supplied CA certificate (${subjectOf(signing)})`);
  }
  checkCurrent(signing, 'the supplied CA certificate', nowMs);
  const material: CaMaterial = {
    signingCertPem: signing.toString(),
    signingKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    intermediatesPem: [],
    rootsPem: [],
  };
  if (isSelfSigned(signing)) {
    if (rest.length > 0) throw new CaSetupError('the supplied CA certificate is a self-signed root; it must not be followed by a chain');
    material.rootsPem.push(signing.toString());
    return material;
  }
  let child = signing;
  for (const [index, parent] of rest.entries()) {
    const what = `certificate #${index + 1} of the supplied CA chain`;
    if (!issuedBy(child, parent)) throw new CaSetupError(`${what} (${subjectOf(parent)}) did not issue the certificate below it (${subjectOf(child)})`);
    checkCurrent(parent, what, nowMs);
    if (isSelfSigned(parent)) {
      if (index !== rest.length - 1) throw new CaSetupError(`${what} is the self-signed root; nothing may follow it in the chain`);
      material.rootsPem.push(parent.toString());
      return material;
    }
    material.intermediatesPem.push(parent.toString());
    child = parent;
  }
  throw new CaSetupError(
    'the supplied CA certificate is an intermediate, and its chain does not end in a self-signed root: supply the certificates above it, up to and including the root, as the chain',
  );
}

// Stored material that no longer fits together would issue certificates no peer accepts.
export function checkCaMaterial(material: CaMaterial, dir: string, nowMs: number): void {
  const [signing] = parseCertificates(material.signingCertPem, `${dir}/ca.crt`);
  if (!signing) throw new CaSetupError(`${dir}/ca.crt holds no certificate`);
  if (!signing.ca) throw new CaSetupError(`${dir}/ca.crt is not a CA certificate`);
  const key = parsePrivateKey(material.signingKeyPem, `${dir}/ca.key`);
  if (!signing.checkPrivateKey(key)) throw new CaSetupError(`${dir}/ca.key does not match ${dir}/ca.crt; restore the pair or re-run init with --force`);
  checkCurrent(signing, `the CA certificate in ${dir}/ca.crt`, nowMs);
  let top = signing;
  for (const pem of material.intermediatesPem) {
    const parent = new X509Certificate(pem);
    if (!issuedBy(top, parent)) throw new CaSetupError(`${dir}/chain.pem does not chain ${dir}/ca.crt to a root`);
    top = parent;
  }
  const roots = material.rootsPem.map((pem) => new X509Certificate(pem));
  if (roots.length === 0) throw new CaSetupError(`${dir}/trust-bundle.pem holds no root certificate`);
  if (!roots.some((root) => issuedBy(top, root) || top.fingerprint256 === root.fingerprint256)) {
    throw new CaSetupError(`no root in ${dir}/trust-bundle.pem issued ${dir}/ca.crt: peers would refuse every certificate this CA signs`);
  }
}
