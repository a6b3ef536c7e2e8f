// X.509 helpers: CSRs round-trip and refuse tampering, built certificates verify with node:crypto.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, certificateInfo, createCsr, generateKeyPair, parseCsr, splitPemBundle, type KeyPair } from '../src/identity/x509.js';
import { formatSpiffeId, parseSpiffeId } from '../src/identity/spiffe.js';

const SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/frontend';
const HOUR = 3600_000;

let workload: KeyPair;
let rootKeys: KeyPair;
let rootPem: string;

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

beforeAll(async () => {
  [workload, rootKeys] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  rootPem = buildCertificate({ publicKeyPem: rootKeys.publicKeyPem, issuerKeyPem: rootKeys.privateKeyPem, subjectCommonName: 'test root', isCa: true, notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + HOUR) });
});

describe('CSRs', () => {
  it('round-trips the SPIFFE ID and the public key', () => {
    const parsed = parseCsr(createCsr({ ...workload, spiffeId: SPIFFE_ID }));
    expect(parsed).toEqual({ ok: true, value: { spiffeIds: [SPIFFE_ID], publicKeyPem: expect.any(String) } });
    if (parsed.ok) expect(parsed.value.publicKeyPem.replace(/\r/g, '')).toBe(workload.publicKeyPem);
  });

  it('refuses a CSR whose signature bytes were altered', () => {
    const der = pemToDer(createCsr({ ...workload, spiffeId: SPIFFE_ID }));
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    const parsed = parseCsr(derToPem(der, 'CERTIFICATE REQUEST'));
    expect(parsed).toEqual({ ok: false, error: 'the CSR signature does not verify against its own public key' });
  });

  it('refuses a CSR whose SPIFFE ID was swapped after signing', () => {
    const der = pemToDer(createCsr({ ...workload, spiffeId: SPIFFE_ID }));
    const at = der.indexOf('frontend');
    expect(at).toBeGreaterThan(0);
    der.write('backends', at, 'latin1');
    const parsed = parseCsr(derToPem(der, 'CERTIFICATE REQUEST'));
    expect(parsed.ok).toBe(false);
  });

  it('refuses input that is not a PEM CSR with a readable error', () => {
    const parsed = parseCsr('hello');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^the CSR is not a PEM PKCS#10 RSA request/);
  });

  it('never throws, whatever the input (property)', () => {
    const csrDer = pemToDer(createCsr({ ...workload, spiffeId: SPIFFE_ID }));
    const mutatedCsr = fc
      .array(fc.record({ index: fc.nat(csrDer.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 })
      .map((edits) => {
        const der = Buffer.from(csrDer);
        for (const edit of edits) der[edit.index] = edit.value;
        return derToPem(der, 'CERTIFICATE REQUEST');
      });
    const randomPem = fc.uint8Array({ maxLength: 600 }).map((bytes) => derToPem(Buffer.from(bytes), 'CERTIFICATE REQUEST'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), randomPem, mutatedCsr), (input) => {
        const parsed = parseCsr(input);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('certificates', () => {
  it('a self-signed root verifies with its own key and is a CA', () => {
    const root = new X509Certificate(rootPem);
    expect(root.ca).toBe(true);
    expect(root.checkIssued(root)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
  });

  it('a leaf chains to its issuer and carries the SPIFFE ID, DNS and IP SANs', () => {
    const leafPem = buildCertificate({
      publicKeyPem: workload.publicKeyPem,
      issuerCertPem: rootPem,
      issuerKeyPem: rootKeys.privateKeyPem,
      spiffeId: SPIFFE_ID,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      isCa: false,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + HOUR),
    });
    const leaf = new X509Certificate(leafPem);
    const root = new X509Certificate(rootPem);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe(`URI:${SPIFFE_ID}, DNS:localhost, IP Address:127.0.0.1`);
    expect(certificateInfo(leafPem).spiffeIds).toEqual([SPIFFE_ID]);
  });

  it('writes the PEM forge writes, and reads CSR keys of any size as forge and OpenSSL do', () => {
    const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;
    for (const modulusLength of [1024, 2048, 3072, 4096]) {
      const pair = generateKeyPairSync('rsa', { modulusLength, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      const parsed = parseCsr(createCsr({ privateKeyPem: pair.privateKey, publicKeyPem: pair.publicKey, spiffeId: SPIFFE_ID }));
      if (!parsed.ok) throw new Error(parsed.error);
      expect(parsed.value.publicKeyPem).toBe(forge.pki.publicKeyToPem(forge.pki.publicKeyFromPem(pair.publicKey)));
      const leafPem = buildCertificate({ publicKeyPem: parsed.value.publicKeyPem, issuerCertPem: rootPem, issuerKeyPem: rootKeys.privateKeyPem, spiffeId: SPIFFE_ID, isCa: false, notBefore: new Date(), notAfter: new Date(Date.now() + HOUR) });
      expect(leafPem).toBe(forge.pki.certificateToPem(forge.pki.certificateFromPem(leafPem)));
      expect(new X509Certificate(leafPem).publicKey.export({ type: 'spki', format: 'pem' })).toBe(pair.publicKey);
    }
  });

  it('builds byte for byte the certificate forge builds, for any names, dates and serial (property)', () => {
    const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;
    // The old buildCertificate, kept as the reference: forge holds the key and writes the whole certificate.
    const forgeCertificate = (spec: Parameters<typeof buildCertificate>[0] & { serialNumber: string }): string => {
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.publicKeyFromPem(spec.publicKeyPem);
      cert.serialNumber = spec.serialNumber;
      cert.validity.notBefore = spec.notBefore;
      cert.validity.notAfter = spec.notAfter;
      const subject = [{ name: 'organizationName', value: 'tsmesh' }, ...(spec.subjectCommonName ? [{ name: 'commonName', value: spec.subjectCommonName }] : [])];
      cert.setSubject(subject);
      const issuer = spec.issuerCertPem ? forge.pki.certificateFromPem(spec.issuerCertPem) : undefined;
      cert.setIssuer(issuer ? issuer.subject.attributes : subject);
      const altNames = [...(spec.spiffeId ? [{ type: 6, value: spec.spiffeId }] : []), ...(spec.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(spec.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
      const extensions: object[] = spec.isCa
        ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]
        : [{ name: 'basicConstraints', cA: false, critical: true }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }, { name: 'extKeyUsage', serverAuth: true, clientAuth: true }, { name: 'subjectKeyIdentifier' }];
      if (issuer) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.generateSubjectKeyIdentifier().getBytes() });
      if (altNames.length > 0) extensions.push({ name: 'subjectAltName', critical: !spec.subjectCommonName && !!spec.spiffeId, altNames });
      cert.setExtensions(extensions);
      cert.sign(forge.pki.privateKeyFromPem(spec.issuerKeyPem), forge.md.sha256.create());
      return forge.pki.certificateToPem(cert);
    };
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    fc.assert(
      fc.property(
        fc.record({
          isCa: fc.boolean(),
          selfSigned: fc.boolean(),
          subjectCommonName: fc.option(label, { nil: undefined }),
          spiffeId: fc.option(label.map((sa) => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa })), { nil: undefined }),
          dnsNames: fc.array(label.map((l) => `${l}.example`), { maxLength: 3 }),
          ipAddresses: fc.array(fc.ipV4(), { maxLength: 2 }),
          // Either side of 2050, where UTCTime gives way to GeneralizedTime (RFC 5280 4.1.2.5).
          notBefore: fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2060-01-01T00:00:00Z'), noInvalidDate: true }),
          lifetimeMs: fc.integer({ min: 1000, max: 40 * 365 * 24 * HOUR }),
          serial: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        }),
        (c) => {
          const serial = Buffer.from(c.serial);
          serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
          const spec = {
            publicKeyPem: c.selfSigned ? rootKeys.publicKeyPem : workload.publicKeyPem,
            ...(c.selfSigned ? {} : { issuerCertPem: rootPem }),
            issuerKeyPem: rootKeys.privateKeyPem,
            ...(c.subjectCommonName !== undefined ? { subjectCommonName: c.subjectCommonName } : {}),
            ...(c.spiffeId !== undefined ? { spiffeId: c.spiffeId } : {}),
            dnsNames: c.dnsNames,
            ipAddresses: c.ipAddresses,
            isCa: c.isCa,
            notBefore: c.notBefore,
            notAfter: new Date(c.notBefore.getTime() + c.lifetimeMs),
            serialNumber: serial.toString('hex'),
          };
          expect(buildCertificate(spec)).toBe(forgeCertificate(spec));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a leaf does not verify against another key', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const leafPem = buildCertificate({ publicKeyPem: workload.publicKeyPem, issuerCertPem: rootPem, issuerKeyPem: rootKeys.privateKeyPem, spiffeId: SPIFFE_ID, isCa: false, notBefore: new Date(), notAfter: new Date(Date.now() + HOUR) });
    expect(new X509Certificate(leafPem).verify(other.publicKey)).toBe(false);
  });

  it('splitPemBundle returns each certificate of a bundle', () => {
    expect(splitPemBundle(`${rootPem}${rootPem}`)).toHaveLength(2);
    expect(splitPemBundle('no certificates here')).toEqual([]);
  });
});

describe('SPIFFE IDs', () => {
  const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  const trustDomain = fc.stringMatching(/^[a-z0-9._-]{1,255}$/);

  it('parseSpiffeId(formatSpiffeId(x)) is x for every valid identity (property)', () => {
    fc.assert(
      fc.property(fc.record({ trustDomain, namespace: name, serviceAccount: name }), (identity) => {
        expect(parseSpiffeId(formatSpiffeId(identity))).toEqual({ ok: true, value: identity });
      }),
    );
  });

  it('parseSpiffeId never throws and refuses what is not a workload ID (property)', () => {
    fc.assert(
      fc.property(fc.string(), (input) => {
        const parsed = parseSpiffeId(input);
        if (parsed.ok) expect(formatSpiffeId(parsed.value)).toBe(input);
      }),
    );
  });
});

describe('certificate serials (regression: a serial starting 00 00 was invalid DER)', () => {
  it('never start with a zero byte and are always positive', async () => {
    const { newSerial } = await import('../src/identity/x509.js');
    for (let i = 0; i < 20_000; i++) {
      const first = Number.parseInt(newSerial().slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(0x40);
      expect(first).toBeLessThanOrEqual(0x7f);
    }
  });
});
