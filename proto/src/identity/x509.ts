// X.509 for the mesh: node-forge builds and parses the CA's structures, node:crypto holds every private-key operation.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb, sign, verify, X509Certificate, randomBytes, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type forge from 'node-forge';
import { spiffeIdsFromSubjectAltName, type ParseResult } from './spiffe.js';
import { bitString, contextConstructed, sequence, SHA256_WITH_RSA, SHA256_WITH_RSA_ALGORITHM, smallInteger, tlv, toPem } from './der.js';

export { createCsr, type CsrRequest } from './csr.js';

// Only the CA (certificates, CSR parsing) needs forge: loaded on first use, a sidecar never pays its ~3 MB.
const requireCjs = createRequire(import.meta.url);
let forgeModule: typeof forge | undefined;
function loadForge(): typeof forge {
  return (forgeModule ??= requireCjs('node-forge') as typeof forge);
}

const generateKeyPairAsync = promisify(generateKeyPairCb);

export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

// RSA-2048 is Istio's default and the only key type node-forge can put into a certificate.
export async function generateKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function derOf(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(loadForge().asn1.toDer(asn1).getBytes(), 'binary');
}

// forge has these at run time but its typings omit them.
function pkiInternals(): {
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
  certificateExtensionsToAsn1(extensions: unknown[]): forge.asn1.Asn1;
} {
  return loadForge().pki as unknown as ReturnType<typeof pkiInternals>;
}

// The public key of a SubjectPublicKeyInfo (DER) as a KeyObject. OpenSSL 3 takes ~110 µs here to import an
// SPKI or PEM key (its decoders try format after format) but ~3 µs for the PKCS#1 RSAPublicKey inside it,
// which was an eighth of the CA's time per CSR. The caller has already seen forge parse it as an RSA key.
function rsaPublicKey(spki: Buffer): KeyObject {
  return createPublicKey({ key: subjectPublicKey(spki), format: 'der', type: 'pkcs1' });
}

// The key inside a SubjectPublicKeyInfo (DER): for RSA, the PKCS#1 RSAPublicKey.
function subjectPublicKey(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier, BIT STRING { 0 unused bits, the key } }
  const inner = skipHeader(spki, 0);
  const keyBits = inner + elementLength(spki, inner);
  return spki.subarray(skipHeader(spki, keyBits) + 1, keyBits + elementLength(spki, keyBits));
}

// RFC 5280 4.2.1.2, method 1 (what forge and OpenSSL compute): SHA-1 over the subject's key bits.
function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKey(spki)).digest();
}

// Offset of a DER element's contents (definite lengths only, as DER requires).
function skipHeader(der: Buffer, at: number): number {
  const first = der[at + 1] ?? 0;
  return at + 2 + (first & 0x80 ? first & 0x7f : 0);
}

// Whole size of the DER element at `at`: header and contents.
function elementLength(der: Buffer, at: number): number {
  const first = der[at + 1] ?? 0;
  if ((first & 0x80) === 0) return 2 + first;
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[at + 2 + i] ?? 0);
  return 2 + (first & 0x7f) + length;
}

// PEM written and read with Node's native base64: forge's own PEM code is a JS scanner and encoder that
// took a tenth of the CA's time per CSR.
function spkiPem(spki: Buffer): string {
  return toPem(spki, 'PUBLIC KEY');
}

// The DER inside a PEM block with this label and no headers, or undefined when the PEM is anything else.
function pemBody(pem: string, label: string): Buffer | undefined {
  const body = new RegExp(`^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\r?\\n?$`).exec(pem.trim() + '\n')?.[1];
  return body === undefined ? undefined : Buffer.from(body, 'base64');
}

// A public key as SubjectPublicKeyInfo DER; node:crypto reads any other form (slower, and rare here).
function spkiOf(publicKeyPem: string): Buffer {
  return pemBody(publicKeyPem, 'PUBLIC KEY') ?? createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
}

export interface ParsedCsr {
  spiffeIds: string[];
  publicKeyPem: string;
}

export function parseCsr(pem: string): ParseResult<ParsedCsr> {
  const { pki, asn1 } = loadForge();
  let csr: forge.pki.CertificateSigningRequest;
  try {
    // forge's own PEM reader is a JS scanner; Node's base64 reads the usual form, forge the rest (and says what is wrong).
    const der = pemBody(pem, 'CERTIFICATE REQUEST');
    csr = der === undefined ? pki.certificationRequestFromPem(pem) : pki.certificationRequestFromAsn1(asn1.fromDer(der.toString('binary')));
  } catch (error) {
    return { ok: false, error: `the CSR is not a PEM PKCS#10 RSA request: ${(error as Error).message}` };
  }
  const csrAny = csr as unknown as { signatureOid: string; signature: string; certificationRequestInfo?: forge.asn1.Asn1 };
  if (csrAny.signatureOid !== SHA256_WITH_RSA) {
    return { ok: false, error: `the CSR is signed with OID ${csrAny.signatureOid}; only sha256WithRSAEncryption is accepted` };
  }
  if (!csr.publicKey) return { ok: false, error: 'the CSR has no public key' };
  const info = csrAny.certificationRequestInfo ?? pkiInternals().getCertificationRequestInfo(csr);
  // CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes }
  const spki = derOf((info.value as forge.asn1.Asn1[])[2] as forge.asn1.Asn1);
  const publicKeyPem = spkiPem(spki);
  const valid = verify('sha256', derOf(info), rsaPublicKey(spki), Buffer.from(csrAny.signature, 'binary'));
  if (!valid) return { ok: false, error: 'the CSR signature does not verify against its own public key' };
  const extensionRequest = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: Array<{ name?: string; altNames?: Array<{ type: number; value: string }> }> } | null;
  const san = extensionRequest?.extensions?.find((e) => e.name === 'subjectAltName');
  const spiffeIds = (san?.altNames ?? []).filter((n) => n.type === 6).map((n) => n.value);
  return { ok: true, value: { spiffeIds, publicKeyPem } };
}

export interface CertificateSpec {
  publicKeyPem: string;
  // The issuer's certificate and key; omit both for a self-signed root.
  issuerCertPem?: string;
  issuerKeyPem: string;
  subjectCommonName?: string;
  spiffeId?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  isCa: boolean;
  notBefore: Date;
  notAfter: Date;
  // Hex; a fresh newSerial() when absent. A caller that passes its own knows it without parsing the result.
  serialNumber?: string;
}

// Random positive 127-bit serials (RFC 5280: positive, at most 20 octets). The top bits are fixed
// to 01 so the first byte is never zero: forge strips only one leading zero byte, and a serial
// starting 00 00 would be invalid DER that OpenSSL refuses.
export function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

// The CA signs thousands of leaves with one key and one issuer: parse each once, not per call.
const privateKeys = new Map<string, KeyObject>();
// With the issuer's key identifier, a SHA-1 over its key that is the same for every leaf.
const issuers = new Map<string, { cert: forge.pki.Certificate; keyId: string }>();

function cached<T>(cache: Map<string, T>, pem: string, parse: (pem: string) => T): T {
  let value = cache.get(pem);
  if (value === undefined) {
    value = parse(pem);
    // A handful of live keys at most (current and rotating CA); never grow without bound.
    if (cache.size >= 8) cache.clear();
    cache.set(pem, value);
  }
  return value;
}

// forge encodes the names and extensions; the subject's key goes in as the bytes it came in. Handing each
// key to forge meant parsing its modulus into forge's big integers and writing it back, and forge's SHA-1
// for the key identifier: together about a fifth of the CA's time per certificate.
export function buildCertificate(spec: CertificateSpec): string {
  const { pki, asn1 } = loadForge();
  const spki = spkiOf(spec.publicKeyPem);
  const cert = pki.createCertificate();
  const subject = [{ name: 'organizationName', value: 'tsmesh' }, ...(spec.subjectCommonName ? [{ name: 'commonName', value: spec.subjectCommonName }] : [])];
  cert.setSubject(subject);
  const issuer = spec.issuerCertPem
    ? cached(issuers, spec.issuerCertPem, (pem) => {
        const parsed = pki.certificateFromPem(pem);
        return { cert: parsed, keyId: parsed.generateSubjectKeyIdentifier().getBytes() };
      })
    : undefined;
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  const altNames = [
    ...(spec.spiffeId ? [{ type: 6, value: spec.spiffeId }] : []),
    ...(spec.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const subjectKeyId = { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, keyIdentifier(spki).toString('binary')) };
  const extensions: object[] = spec.isCa
    ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, subjectKeyId]
    : [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        subjectKeyId,
      ];
  if (issuer) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId });
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', critical: !spec.subjectCommonName && !!spec.spiffeId, altNames });
  cert.setExtensions(extensions);
  const tbs = tbsCertificate(cert, spec.serialNumber ?? newSerial(), spec.notBefore, spec.notAfter, spki);
  const signature = sign('sha256', tbs, cached(privateKeys, spec.issuerKeyPem, createPrivateKey));
  return toPem(sequence(tbs, SHA256_WITH_RSA_ALGORITHM, bitString(signature)), 'CERTIFICATE');
}

// RFC 5280 4.1's TBSCertificate, as forge's getTBSCertificate writes it (a test compares the two): forge encodes
// the names and the extensions, the rest is written here, and the subject's SubjectPublicKeyInfo goes in as given.
function tbsCertificate(cert: forge.pki.Certificate, serialHex: string, notBefore: Date, notAfter: Date, spki: Buffer): Buffer {
  const { pki, asn1, util } = loadForge();
  // UTCTime for 1950-2049, GeneralizedTime outside (RFC 5280 4.1.2.5), as forge chooses.
  const time = (date: Date): Buffer => {
    const utc = date.getUTCFullYear() >= 1950 && date.getUTCFullYear() < 2050;
    return tlv(utc ? 0x17 : 0x18, Buffer.from(utc ? asn1.dateToUtcTime(date) : asn1.dateToGeneralizedTime(date), 'latin1'));
  };
  return sequence(
    contextConstructed(0, smallInteger(2)), // version: v3
    tlv(0x02, Buffer.from(util.hexToBytes(serialHex), 'binary')),
    SHA256_WITH_RSA_ALGORITHM,
    derOf(pki.distinguishedNameToAsn1(cert.issuer)),
    sequence(time(notBefore), time(notAfter)),
    derOf(pki.distinguishedNameToAsn1(cert.subject)),
    spki,
    derOf(pkiInternals().certificateExtensionsToAsn1(cert.extensions)),
  );
}

export interface CertificateInfo {
  spiffeIds: string[];
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  subject: string;
  issuer: string;
  isCa: boolean;
  fingerprint256: string;
}

export function certificateInfo(pem: string): CertificateInfo {
  const cert = new X509Certificate(pem);
  return {
    spiffeIds: spiffeIdsFromSubjectAltName(cert.subjectAltName),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serialNumber: cert.serialNumber,
    subject: cert.subject,
    issuer: cert.issuer,
    isCa: cert.ca,
    fingerprint256: cert.fingerprint256,
  };
}

export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((pem) => `${pem}\n`) ?? [];
}
