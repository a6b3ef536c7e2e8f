// Workload signing: only the proven identity, in this trust domain, for a bounded lifetime; plus the mesh's own certificates.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { createCsr, generateKeyPair, type KeyPair } from '@tsmesh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCertificateAuthority, isAdminIdentity, ADMIN_SA, MESH_SYSTEM_NAMESPACE, type CertificateAuthority, type SignedWorkload } from '../src/ca/index.js';

const TD = 'cluster.local';
const WEB = `spiffe://${TD}/ns/default/sa/web`;
const DB = `spiffe://${TD}/ns/default/sa/db`;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

let dataDir: string;
let ca: CertificateAuthority;
let workload: KeyPair;
let rootCert: X509Certificate;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-ca-sign-'));
  [workload] = await Promise.all([generateKeyPair()]);
  ca = await initCertificateAuthority(dataDir, { trustDomain: TD, maxWorkloadTtlMs: 7 * DAY });
  rootCert = new X509Certificate(ca.trustBundle()[0] ?? '');
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

// createCsr always puts exactly one URI SAN; these CSRs need none or several.
function csrWithUris(uris: string[]): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(workload.publicKeyPem);
  csr.setSubject([{ name: 'organizationName', value: 'tsmesh' }]);
  if (uris.length > 0) csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: uris.map((value) => ({ type: 6, value })) }] }]);
  const pkcs1 = createPrivateKey(workload.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
  csr.sign(forge.pki.privateKeyFromPem(pkcs1), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function signed(csrPem: string, expectedSpiffeId: string, ttlMs?: number, authority = ca): SignedWorkload {
  const result = authority.signWorkload(csrPem, { expectedSpiffeId, ...(ttlMs !== undefined ? { ttlMs } : {}) });
  if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  return result.value;
}

function refusal(csrPem: string, expectedSpiffeId: string, ttlMs?: number): { kind: string; message: string } {
  const result = ca.signWorkload(csrPem, { expectedSpiffeId, ...(ttlMs !== undefined ? { ttlMs } : {}) });
  if (result.ok) throw new Error('expected a refusal');
  return result.error;
}

describe('signWorkload', () => {
  it('issues a leaf that chains to the root, for the SPIFFE ID asked, for 24 h by default', () => {
    const issuedBefore = ca.certificatesIssued;
    const before = Date.now();
    const cert = signed(createCsr({ ...workload, spiffeId: WEB }), WEB);
    // The CA reads its clock somewhere between the two: a second boundary may pass in between.
    const after = Date.now();
    expect(cert.spiffeId).toBe(WEB);
    expect(cert.certChainPem).toHaveLength(1);
    expect(cert.trustBundlePem).toEqual(ca.trustBundle());
    const leaf = new X509Certificate(cert.certChainPem[0] ?? '');
    expect(leaf.checkIssued(rootCert) && leaf.verify(rootCert.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${WEB}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.serialNumber).toBe(cert.serialNumber);
    expect(new Date(leaf.validTo).getTime()).toBe(cert.notAfter.getTime());
    expect(cert.notAfter.getTime() - before).toBeGreaterThan(DAY - 2000);
    expect(cert.notAfter.getTime() - after).toBeLessThanOrEqual(DAY);
    // Backdated for clock skew, by at most a minute (and a second of rounding).
    expect(after - new Date(leaf.validFrom).getTime()).toBeGreaterThanOrEqual(60_000);
    expect(before - new Date(leaf.validFrom).getTime()).toBeLessThan(61_000);
    expect(ca.certificatesIssued).toBe(issuedBefore + 1);
  });

  it('caps the lifetime at the configured maximum', () => {
    const before = Date.now();
    const cert = signed(createCsr({ ...workload, spiffeId: WEB }), WEB, 30 * DAY);
    const after = Date.now();
    expect(cert.notAfter.getTime() - after).toBeLessThanOrEqual(7 * DAY);
    expect(cert.notAfter.getTime() - before).toBeGreaterThan(7 * DAY - 2000);
  });

  it('caps the lifetime at the CA certificate expiry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsmesh-ca-short-'));
    try {
      const shortCa = await initCertificateAuthority(dir, { trustDomain: TD, rootTtlMs: HOUR });
      const cert = signed(createCsr({ ...workload, spiffeId: WEB }), WEB, DAY, shortCa);
      expect(cert.notAfter.getTime()).toBe(shortCa.notAfter.getTime());
      expect(cert.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(HOUR);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives a 4 s certificate that is valid now, backdated by well under its lifetime', () => {
    const now = Date.now();
    const cert = signed(createCsr({ ...workload, spiffeId: WEB }), WEB, 4000);
    const after = Date.now();
    const leaf = new X509Certificate(cert.certChainPem[0] ?? '');
    const notBefore = new Date(leaf.validFrom).getTime();
    expect(notBefore).toBeLessThanOrEqual(after);
    expect(now - notBefore).toBeLessThan(1400);
    expect(cert.notAfter.getTime()).toBeGreaterThan(now + 2000);
    // A renewer at half of notAfter - notBefore renews before the certificate expires.
    expect(notBefore + (cert.notAfter.getTime() - notBefore) / 2).toBeLessThan(cert.notAfter.getTime() - 1000);
  });

  it('refuses a CSR that is not a CSR', () => {
    expect(refusal('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', WEB)).toEqual({ kind: 'malformed-csr', message: expect.stringMatching(/^the CSR is not a PEM PKCS#10 RSA request: /) });
    expect(refusal('', WEB)).toEqual({ kind: 'malformed-csr', message: 'the CSR is empty' });
  });

  it('refuses a CSR without a URI SAN', () => {
    expect(refusal(csrWithUris([]), WEB)).toEqual({ kind: 'malformed-csr', message: 'the CSR must carry exactly one URI SAN (the SPIFFE ID asked for); found none' });
  });

  it('refuses a CSR with several URI SANs', () => {
    expect(refusal(csrWithUris([WEB, DB]), WEB)).toEqual({ kind: 'malformed-csr', message: `the CSR must carry exactly one URI SAN (the SPIFFE ID asked for); found 2: ${WEB}, ${DB}` });
  });

  it('refuses a CSR for another identity than the proven one, naming both', () => {
    expect(refusal(createCsr({ ...workload, spiffeId: DB }), WEB)).toEqual({ kind: 'identity-mismatch', message: `the CSR asks for ${DB} but the caller proved ${WEB}` });
  });

  it('refuses a SPIFFE ID of another trust domain', () => {
    const foreign = 'spiffe://evil.example/ns/default/sa/web';
    expect(refusal(createCsr({ ...workload, spiffeId: foreign }), foreign)).toEqual({
      kind: 'wrong-trust-domain',
      message: `the CSR asks for ${foreign} in trust domain "evil.example"; this CA signs only for trust domain "${TD}"`,
    });
  });

  it('refuses a URI SAN that is not a workload SPIFFE ID', () => {
    expect(refusal(csrWithUris(['https://example.com/']), WEB).kind).toBe('invalid-identity');
  });

  it('refuses a negative lifetime', () => {
    expect(refusal(createCsr({ ...workload, spiffeId: WEB }), WEB, -5)).toEqual({ kind: 'invalid-ttl', message: 'the requested lifetime must be a positive number of milliseconds (or 0 for the default); got -5' });
  });
});

describe('the mesh’s own certificates', () => {
  it('issues a serving certificate with localhost, 127.0.0.1 and the given names, and its own key', async () => {
    const spiffeId = `spiffe://${TD}/ns/${MESH_SYSTEM_NAMESPACE}/sa/mesh-control-plane`;
    const serving = await ca.issueServingCertificate({ spiffeId, dnsNames: ['cp.mesh-system.svc'], ipAddresses: ['10.0.0.7'], ttlMs: HOUR });
    const leaf = new X509Certificate(serving.certChainPem[0] ?? '');
    expect(leaf.subjectAltName).toBe(`URI:${spiffeId}, DNS:localhost, DNS:cp.mesh-system.svc, IP Address:127.0.0.1, IP Address:10.0.0.7`);
    expect(leaf.checkPrivateKey(createPrivateKey(serving.keyPem))).toBe(true);
    expect(leaf.verify(rootCert.publicKey)).toBe(true);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.notAfter.getTime()).toBe(new Date(leaf.validTo).getTime());
  });

  it('issues meshctl an admin certificate with the admin identity', async () => {
    const admin = await ca.issueAdminCertificate({ name: 'meshctl', ttlMs: 365 * DAY });
    const leaf = new X509Certificate(admin.certChainPem[0] ?? '');
    const adminId = `spiffe://${TD}/ns/mesh-system/sa/mesh-admin`;
    expect(leaf.subjectAltName).toBe(`URI:${adminId}`);
    expect(leaf.subject).toContain('CN=meshctl');
    expect(leaf.checkPrivateKey(createPrivateKey(admin.keyPem))).toBe(true);
    expect(isAdminIdentity(adminId, TD)).toBe(true);
    expect(isAdminIdentity(adminId, 'other.domain')).toBe(false);
    expect(isAdminIdentity(WEB, TD)).toBe(false);
    expect([MESH_SYSTEM_NAMESPACE, ADMIN_SA]).toEqual(['mesh-system', 'mesh-admin']);
  });
});
