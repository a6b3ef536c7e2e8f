// CA setup: init writes a private, complete CA; load reads it back or says what is wrong; supplied roots are checked.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCertificate, createCsr, generateKeyPair, splitPemBundle, type KeyPair } from '@tsmesh/proto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CaSetupError, initCertificateAuthority, loadCertificateAuthority } from '../src/ca/index.js';

const TD = 'cluster.local';
const HOUR = 3600_000;
const WORKLOAD = `spiffe://${TD}/ns/default/sa/web`;

let dataDir: string;
let keys: KeyPair[];

beforeAll(async () => {
  keys = await Promise.all([generateKeyPair(), generateKeyPair(), generateKeyPair()]);
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-ca-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function key(index: number): KeyPair {
  const pair = keys[index];
  if (!pair) throw new Error(`no test key ${index}`);
  return pair;
}

const lf = (pem: string): string => pem.replace(/\r\n/g, '\n');

function root(pair: KeyPair, notAfter = new Date(Date.now() + HOUR)): string {
  return lf(buildCertificate({ publicKeyPem: pair.publicKeyPem, issuerKeyPem: pair.privateKeyPem, subjectCommonName: 'operator root', isCa: true, notBefore: new Date(Date.now() - HOUR), notAfter }));
}

function intermediate(pair: KeyPair, rootPem: string, rootKey: KeyPair, isCa = true): string {
  return lf(buildCertificate({ publicKeyPem: pair.publicKeyPem, issuerCertPem: rootPem, issuerKeyPem: rootKey.privateKeyPem, subjectCommonName: 'operator intermediate', isCa, notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + HOUR) }));
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('initCertificateAuthority', () => {
  it('writes a private CA directory: key 0600, directory 0700, trust bundle and metadata', async () => {
    const ca = await initCertificateAuthority(dataDir, { trustDomain: TD });
    const dir = join(dataDir, 'ca');
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    const rootCert = new X509Certificate(await readFile(join(dir, 'ca.crt'), 'utf8'));
    expect(rootCert.ca).toBe(true);
    expect(rootCert.verify(rootCert.publicKey)).toBe(true);
    // Ten years by default.
    expect(new Date(rootCert.validTo).getTime() - Date.now()).toBeGreaterThan(3649 * 24 * HOUR);
    expect(splitPemBundle(await readFile(join(dir, 'trust-bundle.pem'), 'utf8'))).toEqual(ca.trustBundle());
    const meta = JSON.parse(await readFile(join(dir, 'ca.json'), 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ version: 1, trustDomain: TD, source: 'generated' });
    expect(ca.trustDomain).toBe(TD);
  });

  it('refuses to overwrite an existing CA unless forced', async () => {
    const first = await initCertificateAuthority(dataDir, { trustDomain: TD });
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD })).rejects.toThrow(/a certificate authority already exists in .*; pass --force to replace it/);
    const second = await initCertificateAuthority(dataDir, { trustDomain: TD, force: true });
    expect(second.trustBundle()).not.toEqual(first.trustBundle());
    expect((await loadCertificateAuthority(dataDir)).trustBundle()).toEqual(second.trustBundle());
  });

  it('keeps the previous root in the trust bundle when asked, for rotation', async () => {
    const first = await initCertificateAuthority(dataDir, { trustDomain: TD });
    const second = await initCertificateAuthority(dataDir, { trustDomain: TD, force: true, keepPreviousRoots: true });
    expect(second.trustBundle()).toHaveLength(2);
    expect(second.trustBundle()[1]).toBe(first.trustBundle()[0]);
    expect((await loadCertificateAuthority(dataDir)).trustBundle()).toEqual(second.trustBundle());
  });

  it('refuses an invalid trust domain', async () => {
    await expect(initCertificateAuthority(dataDir, { trustDomain: 'Not A Domain' })).rejects.toThrow('trust domain "Not A Domain" is not valid');
  });
});

describe('loadCertificateAuthority', () => {
  it('round-trips what init wrote and signs with it', async () => {
    const made = await initCertificateAuthority(dataDir, { trustDomain: 'example.org' });
    const ca = await loadCertificateAuthority(dataDir);
    expect(ca.trustDomain).toBe('example.org');
    expect(ca.trustBundle()).toEqual(made.trustBundle());
    const id = 'spiffe://example.org/ns/default/sa/web';
    const signed = ca.signWorkload(createCsr({ ...key(0), spiffeId: id }), { expectedSpiffeId: id });
    if (!signed.ok) throw new Error(signed.error.message);
    const leaf = new X509Certificate(signed.value.certChainPem[0] ?? '');
    expect(leaf.verify(new X509Certificate(ca.trustBundle()[0] ?? '').publicKey)).toBe(true);
  });

  it('says to run init when there is no CA', async () => {
    await expect(loadCertificateAuthority(dataDir)).rejects.toThrow(`no certificate authority in ${dataDir}: run \`mesh-control-plane init --data-dir ${dataDir}\` first`);
  });

  it('names the missing file of an incomplete CA', async () => {
    await initCertificateAuthority(dataDir, { trustDomain: TD });
    await rm(join(dataDir, 'ca', 'ca.key'));
    await expect(loadCertificateAuthority(dataDir)).rejects.toThrow(`${join(dataDir, 'ca', 'ca.key')} is missing`);
  });

  it('refuses a key that does not match the certificate', async () => {
    await initCertificateAuthority(dataDir, { trustDomain: TD });
    await writeFile(join(dataDir, 'ca', 'ca.key'), key(1).privateKeyPem, { mode: 0o600 });
    const error = await loadCertificateAuthority(dataDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaSetupError);
    expect((error as Error).message).toMatch(/ca\.key does not match .*ca\.crt/);
  });

  it('refuses a trust bundle that does not hold the CA root', async () => {
    await initCertificateAuthority(dataDir, { trustDomain: TD });
    await writeFile(join(dataDir, 'ca', 'trust-bundle.pem'), root(key(1)));
    await expect(loadCertificateAuthority(dataDir)).rejects.toThrow(/no root in .*trust-bundle\.pem issued/);
  });
});

describe('operator-supplied CA', () => {
  it('uses a supplied root', async () => {
    const rootPem = root(key(0));
    const ca = await initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: rootPem, keyPem: key(0).privateKeyPem } });
    expect(ca.trustBundle()).toEqual([rootPem]);
    const signed = (await loadCertificateAuthority(dataDir)).signWorkload(createCsr({ ...key(2), spiffeId: WORKLOAD }), { expectedSpiffeId: WORKLOAD });
    if (!signed.ok) throw new Error(signed.error.message);
    expect(signed.value.certChainPem).toHaveLength(1);
    expect(new X509Certificate(signed.value.certChainPem[0] ?? '').verify(new X509Certificate(rootPem).publicKey)).toBe(true);
  });

  it('uses a supplied intermediate: leaf chains through it to the root, which alone is trusted', async () => {
    const rootPem = root(key(0));
    const interPem = intermediate(key(1), rootPem, key(0));
    await initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: interPem, keyPem: key(1).privateKeyPem, chainPem: rootPem } });
    const ca = await loadCertificateAuthority(dataDir);
    expect(ca.trustBundle()).toEqual([rootPem]);
    const signed = ca.signWorkload(createCsr({ ...key(2), spiffeId: WORKLOAD }), { expectedSpiffeId: WORKLOAD });
    if (!signed.ok) throw new Error(signed.error.message);
    const [leafPem, chainPem] = signed.value.certChainPem;
    const leaf = new X509Certificate(leafPem ?? '');
    const inter = new X509Certificate(chainPem ?? '');
    expect(leaf.checkIssued(inter) && leaf.verify(inter.publicKey)).toBe(true);
    expect(inter.verify(new X509Certificate(rootPem).publicKey)).toBe(true);
  });

  it('refuses a key that does not match the supplied certificate', async () => {
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: root(key(0)), keyPem: key(1).privateKeyPem } })).rejects.toThrow(
      'the supplied CA key does not match the supplied CA certificate (O=tsmesh, CN=operator root)',
    );
  });

  it('refuses a supplied key that is not a key', async () => {
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: root(key(0)), keyPem: 'nope' } })).rejects.toThrow(/the supplied CA key is not a readable unencrypted PEM private key/);
  });

  it('refuses a certificate that is not a CA', async () => {
    const rootPem = root(key(0));
    const leafPem = intermediate(key(1), rootPem, key(0), false);
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: leafPem, keyPem: key(1).privateKeyPem, chainPem: rootPem } })).rejects.toThrow(/is not a CA certificate/);
  });

  it('refuses an expired root', async () => {
    const expired = buildCertificate({ publicKeyPem: key(0).publicKeyPem, issuerKeyPem: key(0).privateKeyPem, isCa: true, notBefore: new Date(Date.now() - 2 * HOUR), notAfter: new Date(Date.now() - HOUR) });
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: expired, keyPem: key(0).privateKeyPem } })).rejects.toThrow(/the supplied CA certificate \(O=tsmesh\) expired at /);
  });

  it('refuses an intermediate without the chain to its root', async () => {
    const interPem = intermediate(key(1), root(key(0)), key(0));
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: interPem, keyPem: key(1).privateKeyPem } })).rejects.toThrow(/is an intermediate, and its chain does not end in a self-signed root/);
  });

  it('refuses a chain whose root did not issue the intermediate', async () => {
    const interPem = intermediate(key(1), root(key(0)), key(0));
    await expect(initCertificateAuthority(dataDir, { trustDomain: TD, supplied: { certPem: interPem, keyPem: key(1).privateKeyPem, chainPem: root(key(2)) } })).rejects.toThrow(/did not issue the certificate below it/);
  });
});
