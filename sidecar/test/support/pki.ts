// A throwaway CA for data-plane tests: real certificates with SPIFFE IDs, made with the mesh's own X.509 helpers.
import { buildCertificate, generateKeyPair, type KeyPair } from '@tsmesh/proto';
import type { TlsMaterial } from '../../src/identity/tls-material.js';

export interface TestCa {
  certPem: string;
  keyPem: string;
}

const HOUR = 3_600_000;

export async function keyPairs(count: number): Promise<KeyPair[]> {
  return Promise.all(Array.from({ length: count }, () => generateKeyPair()));
}

export function createTestCa(keys: KeyPair, name: string): TestCa {
  const now = Date.now();
  const certPem = buildCertificate({
    publicKeyPem: keys.publicKeyPem,
    issuerKeyPem: keys.privateKeyPem,
    subjectCommonName: name,
    isCa: true,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 24 * HOUR),
  });
  return { certPem, keyPem: keys.privateKeyPem };
}

// Every call makes a new certificate (new serial) for the same key, as a rotation would.
export function issueWorkload(ca: TestCa, keys: KeyPair, spiffeId: string, trustBundle: string[] = [ca.certPem]): TlsMaterial {
  const now = Date.now();
  const notAfter = new Date(now + 24 * HOUR);
  const certPem = buildCertificate({
    publicKeyPem: keys.publicKeyPem,
    issuerCertPem: ca.certPem,
    issuerKeyPem: ca.keyPem,
    spiffeId,
    isCa: false,
    notBefore: new Date(now - HOUR),
    notAfter,
  });
  return { keyPem: keys.privateKeyPem, certChainPem: certPem, trustBundlePem: trustBundle, spiffeId, notAfter };
}

// A caller and the server it calls, under one throwaway root: what most single-hop data-plane tests need.
export async function callerAndServer(callerId: string, serverId: string): Promise<{ caller: TlsMaterial; server: TlsMaterial }> {
  const [caKeys, callerKeys, serverKeys] = await keyPairs(3);
  const ca = createTestCa(caKeys!, 'test root');
  return { caller: issueWorkload(ca, callerKeys!, callerId), server: issueWorkload(ca, serverKeys!, serverId) };
}
