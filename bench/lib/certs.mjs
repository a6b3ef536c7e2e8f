// Certificates for the peer pairs (H and N): an RSA-2048 root and two SPIFFE leaves, built by the mesh's own helpers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, buildCertificate } from '@tsmesh/proto';

export const BENCH_TRUST_DOMAIN = 'cluster.local';
export const CLIENT_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/client`;
export const SERVER_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/backend`;

// Writes ca.pem, {client,server}.{crt,key} and HAProxy's combined {client,server}.pem into dir.
export async function writeBenchCertificates(dir) {
  const [caKeys, clientKeys, serverKeys] = await Promise.all([generateKeyPair(), generateKeyPair(), generateKeyPair()]);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const caPem = buildCertificate({ publicKeyPem: caKeys.publicKeyPem, issuerKeyPem: caKeys.privateKeyPem, subjectCommonName: 'tsmesh bench root', isCa: true, notBefore, notAfter });
  const leaf = (keys, spiffeId) => buildCertificate({ publicKeyPem: keys.publicKeyPem, issuerCertPem: caPem, issuerKeyPem: caKeys.privateKeyPem, spiffeId, isCa: false, notBefore, notAfter });
  const clientPem = leaf(clientKeys, CLIENT_ID);
  const serverPem = leaf(serverKeys, SERVER_ID);
  const files = {
    ca: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCombined: join(dir, 'client.pem'),
    serverCombined: join(dir, 'server.pem'),
  };
  writeFileSync(files.ca, caPem);
  writeFileSync(files.clientCert, clientPem);
  writeFileSync(files.clientKey, clientKeys.privateKeyPem, { mode: 0o600 });
  writeFileSync(files.serverCert, serverPem);
  writeFileSync(files.serverKey, serverKeys.privateKeyPem, { mode: 0o600 });
  writeFileSync(files.clientCombined, clientPem + clientKeys.privateKeyPem, { mode: 0o600 });
  writeFileSync(files.serverCombined, serverPem + serverKeys.privateKeyPem, { mode: 0o600 });
  return files;
}
