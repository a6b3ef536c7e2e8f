// The CSR built without node-forge: byte-for-byte the request forge built, for any SPIFFE ID; accepted by the CA's parser and OpenSSL's.
import { createPrivateKey, sign } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCsr } from '../src/identity/csr.js';
import { oid, tlv } from '../src/identity/der.js';
import { generateKeyPair, parseCsr, type KeyPair } from '../src/identity/x509.js';

// What createCsr did before forge left the sidecar, kept here as the reference.
function forgeCsr(request: KeyPair & { spiffeId: string }): string {
  const sha256WithRsa = '1.2.840.113549.1.1.11';
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(request.publicKeyPem);
  csr.setSubject([{ name: 'organizationName', value: 'tsmesh' }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: request.spiffeId }] }] }]);
  const csrAny = csr as unknown as { signatureOid: string; siginfo: { algorithmOid: string }; signature: string };
  csrAny.signatureOid = sha256WithRsa;
  csrAny.siginfo = { algorithmOid: sha256WithRsa };
  const info = (forge.pki as unknown as { getCertificationRequestInfo(c: forge.pki.CertificateSigningRequest): forge.asn1.Asn1 }).getCertificationRequestInfo(csr);
  const der = Buffer.from(forge.asn1.toDer(info).getBytes(), 'binary');
  csrAny.signature = sign('sha256', der, createPrivateKey(request.privateKeyPem)).toString('binary');
  return forge.pki.certificationRequestToPem(csr);
}

let keys: KeyPair;
beforeAll(async () => {
  keys = await generateKeyPair();
});

describe('createCsr without node-forge', () => {
  it('writes the same bytes as the forge-built request (RSA PKCS#1 v1.5 signatures are deterministic)', () => {
    const spiffeId = 'spiffe://cluster.local/ns/default/sa/frontend';
    expect(createCsr({ ...keys, spiffeId })).toBe(forgeCsr({ ...keys, spiffeId }));
  });

  it('matches forge for SPIFFE IDs of any length, across the DER long-form length boundaries (property)', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,62}$/);
    fc.assert(
      fc.property(segment, fc.array(segment, { minLength: 1, maxLength: 8 }), (domain, path) => {
        const spiffeId = `spiffe://${domain}/${path.join('/')}`;
        expect(createCsr({ ...keys, spiffeId })).toBe(forgeCsr({ ...keys, spiffeId }));
      }),
      { numRuns: 40 },
    );
  });

  it('round-trips through the CA parser', () => {
    const spiffeId = 'spiffe://example.org/ns/a/sa/b';
    const parsed = parseCsr(createCsr({ ...keys, spiffeId }));
    expect(parsed.ok && parsed.value.spiffeIds).toEqual([spiffeId]);
  });

  it('verifies with OpenSSL when it is installed', () => {
    const r = spawnSync('openssl', ['req', '-noout', '-verify'], { input: createCsr({ ...keys, spiffeId: 'spiffe://cluster.local/ns/x/sa/y' }), encoding: 'utf8' });
    if (r.error) return;
    expect(`${r.stdout}${r.stderr}`).toMatch(/verify OK/i);
  });
});

describe('DER writer', () => {
  it('encodes lengths in short and long form', () => {
    expect(tlv(0x04, Buffer.alloc(127)).subarray(0, 2)).toEqual(Buffer.from([0x04, 127]));
    expect(tlv(0x04, Buffer.alloc(128)).subarray(0, 3)).toEqual(Buffer.from([0x04, 0x81, 128]));
    expect(tlv(0x04, Buffer.alloc(256)).subarray(0, 4)).toEqual(Buffer.from([0x04, 0x82, 1, 0]));
  });

  it('encodes object identifiers with multi-byte arcs', () => {
    expect(oid('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b');
    expect(oid('2.5.29.17').toString('hex')).toBe('0603551d11');
  });
});
