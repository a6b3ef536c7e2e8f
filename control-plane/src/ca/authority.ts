// The mesh CA at run time: signs workload CSRs, and issues the control plane's and meshctl's own certificates.
import { X509Certificate } from 'node:crypto';
import { buildCertificate, err, generateKeyPair, newSerial, ok, parseCsr, parseSpiffeId, type Result } from '@tsmesh/proto';
import { buildParsableCertificate } from './build.js';
import { adminSpiffeId } from './admin-identity.js';
import { isSelfSigned, normalizeMaterial, normalizePem, type CaMaterial } from './chain.js';
import { DEFAULT_MAX_WORKLOAD_TTL_MS, DEFAULT_WORKLOAD_TTL_MS, validityWindow } from './lifetime.js';

export type SignErrorKind = 'malformed-csr' | 'invalid-identity' | 'wrong-trust-domain' | 'identity-mismatch' | 'invalid-ttl' | 'ca-expired';

export interface SignError {
  kind: SignErrorKind;
  message: string;
}

export interface SignWorkloadOptions {
  // The identity the caller has proven; the CSR may ask for this one only.
  expectedSpiffeId: string;
  // Omitted or 0: the default lifetime. Capped by the maximum and by the CA's own expiry.
  ttlMs?: number;
}

export interface SignedWorkload {
  // Leaf first, then intermediates (never the root).
  certChainPem: string[];
  trustBundlePem: string[];
  notBefore: Date;
  notAfter: Date;
  spiffeId: string;
  serialNumber: string;
}

export interface IssuedCertificate {
  keyPem: string;
  certChainPem: string[];
  notAfter: Date;
}

export interface ServingCertificateRequest {
  spiffeId?: string;
  // localhost and 127.0.0.1 are always added: meshctl and local sidecars dial them.
  dnsNames?: string[];
  ipAddresses?: string[];
  ttlMs: number;
}

export interface AdminCertificateRequest {
  // Who holds the certificate (goes in the subject CN; the SPIFFE ID is the same for every admin).
  name: string;
  ttlMs: number;
}

export interface CertificateAuthorityOptions {
  defaultWorkloadTtlMs?: number;
  maxWorkloadTtlMs?: number;
  now?: () => number;
}

export class CertificateAuthority {
  readonly trustDomain: string;
  private readonly material: CaMaterial;
  private readonly defaultTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;
  // No certificate may outlive a certificate above it in its chain.
  private readonly chainNotAfterMs: number;
  // What follows a leaf in the chain it presents: the signing certificate unless it is the root itself.
  private readonly chainPem: string[];
  private issued = 0;

  // Use initCertificateAuthority or loadCertificateAuthority; they check the material first.
  constructor(trustDomain: string, material: CaMaterial, options: CertificateAuthorityOptions = {}) {
    this.trustDomain = trustDomain;
    this.material = normalizeMaterial(material);
    this.defaultTtlMs = options.defaultWorkloadTtlMs ?? DEFAULT_WORKLOAD_TTL_MS;
    this.maxTtlMs = options.maxWorkloadTtlMs ?? DEFAULT_MAX_WORKLOAD_TTL_MS;
    this.now = options.now ?? Date.now;
    const chain = [this.material.signingCertPem, ...this.material.intermediatesPem].map((pem) => new X509Certificate(pem));
    const top = chain[chain.length - 1];
    const signing = chain[0];
    this.chainPem = signing && isSelfSigned(signing) ? [] : [this.material.signingCertPem, ...this.material.intermediatesPem];
    const issuingRoots = this.material.rootsPem.map((pem) => new X509Certificate(pem)).filter((root) => top && (top.checkIssued(root) || top.fingerprint256 === root.fingerprint256));
    this.chainNotAfterMs = Math.min(...[...chain, ...issuingRoots].map((cert) => new Date(cert.validTo).getTime()));
  }

  get certificatesIssued(): number {
    return this.issued;
  }

  // The signing certificate's expiry, which caps every certificate issued.
  get notAfter(): Date {
    return new Date(this.chainNotAfterMs);
  }

  trustBundle(): string[] {
    return [...this.material.rootsPem];
  }

  signWorkload(csrPem: string, options: SignWorkloadOptions): Result<SignedWorkload, SignError> {
    if (typeof csrPem !== 'string' || csrPem.length === 0) return err({ kind: 'malformed-csr', message: 'the CSR is empty' });
    const parsed = parseCsr(csrPem);
    if (!parsed.ok) return err({ kind: 'malformed-csr', message: parsed.error });
    const ids = parsed.value.spiffeIds;
    if (ids.length !== 1) {
      const found = ids.length === 0 ? 'none' : `${ids.length}: ${ids.join(', ')}`;
      return err({ kind: 'malformed-csr', message: `the CSR must carry exactly one URI SAN (the SPIFFE ID asked for); found ${found}` });
    }
    const spiffeId = ids[0] ?? '';
    const identity = parseSpiffeId(spiffeId);
    if (!identity.ok) return err({ kind: 'invalid-identity', message: `the CSR asks for an invalid identity: ${identity.error}` });
    if (identity.value.trustDomain !== this.trustDomain) {
      return err({
        kind: 'wrong-trust-domain',
        message: `the CSR asks for ${spiffeId} in trust domain "${identity.value.trustDomain}"; this CA signs only for trust domain "${this.trustDomain}"`,
      });
    }
    if (spiffeId !== options.expectedSpiffeId) {
      return err({ kind: 'identity-mismatch', message: `the CSR asks for ${spiffeId} but the caller proved ${options.expectedSpiffeId}` });
    }
    const ttl = this.workloadTtl(options.ttlMs);
    if (!ttl.ok) return ttl;
    const window = validityWindow(this.now(), ttl.value, this.chainNotAfterMs);
    if (!window) return err({ kind: 'ca-expired', message: `the CA certificate expired at ${this.notAfter.toISOString()}; rotate the CA` });
    // The hot path of the CA: the serial is ours, so the leaf is not parsed back just to read it.
    const serialNumber = newSerial();
    const leafPem = normalizePem(buildCertificate({
      publicKeyPem: parsed.value.publicKeyPem,
      issuerCertPem: this.material.signingCertPem,
      issuerKeyPem: this.material.signingKeyPem,
      spiffeId,
      isCa: false,
      serialNumber,
      ...window,
    }));
    this.issued += 1;
    return ok({
      certChainPem: [leafPem, ...this.chainPem],
      trustBundlePem: this.trustBundle(),
      ...window,
      spiffeId,
      // As X509Certificate.serialNumber writes it.
      serialNumber: serialNumber.toUpperCase(),
    });
  }

  async issueServingCertificate(request: ServingCertificateRequest): Promise<IssuedCertificate> {
    if (request.spiffeId !== undefined) this.assertOwnIdentity(request.spiffeId);
    return this.issueWithNewKey({
      subjectCommonName: 'mesh-control-plane',
      ...(request.spiffeId !== undefined ? { spiffeId: request.spiffeId } : {}),
      dnsNames: [...new Set(['localhost', ...(request.dnsNames ?? [])])],
      ipAddresses: [...new Set(['127.0.0.1', ...(request.ipAddresses ?? [])])],
      ttlMs: request.ttlMs,
    });
  }

  async issueAdminCertificate(request: AdminCertificateRequest): Promise<IssuedCertificate> {
    if (!/^[\x20-\x7e]{1,64}$/.test(request.name)) throw new Error(`admin certificate name "${request.name}" must be 1-64 printable ASCII characters`);
    return this.issueWithNewKey({ subjectCommonName: request.name, spiffeId: adminSpiffeId(this.trustDomain), ttlMs: request.ttlMs });
  }

  private workloadTtl(requestedMs: number | undefined): Result<number, SignError> {
    if (requestedMs === undefined || requestedMs === 0) return ok(Math.min(this.defaultTtlMs, this.maxTtlMs));
    if (!Number.isFinite(requestedMs) || requestedMs < 0) {
      return err({ kind: 'invalid-ttl', message: `the requested lifetime must be a positive number of milliseconds (or 0 for the default); got ${requestedMs}` });
    }
    return ok(Math.min(requestedMs, this.maxTtlMs));
  }

  private assertOwnIdentity(spiffeId: string): void {
    const parsed = parseSpiffeId(spiffeId);
    if (!parsed.ok) throw new Error(parsed.error);
    if (parsed.value.trustDomain !== this.trustDomain) throw new Error(`${spiffeId} is not in this CA's trust domain "${this.trustDomain}"`);
  }

  private async issueWithNewKey(spec: { subjectCommonName: string; spiffeId?: string; dnsNames?: string[]; ipAddresses?: string[]; ttlMs: number }): Promise<IssuedCertificate> {
    if (!Number.isFinite(spec.ttlMs) || spec.ttlMs <= 0) throw new Error(`certificate lifetime must be a positive number of milliseconds; got ${spec.ttlMs}`);
    const window = validityWindow(this.now(), spec.ttlMs, this.chainNotAfterMs);
    if (!window) throw new Error(`the CA certificate expired at ${this.notAfter.toISOString()}; rotate the CA`);
    const keys = await generateKeyPair();
    const leaf = buildParsableCertificate({
      publicKeyPem: keys.publicKeyPem,
      issuerCertPem: this.material.signingCertPem,
      issuerKeyPem: this.material.signingKeyPem,
      isCa: false,
      subjectCommonName: spec.subjectCommonName,
      ...(spec.spiffeId !== undefined ? { spiffeId: spec.spiffeId } : {}),
      dnsNames: spec.dnsNames ?? [],
      ipAddresses: spec.ipAddresses ?? [],
      ...window,
    });
    this.issued += 1;
    return { keyPem: keys.privateKeyPem, certChainPem: [leaf.pem, ...this.chainPem], notAfter: window.notAfter };
  }
}
