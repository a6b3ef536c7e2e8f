// The Identity service over a real mTLS gRPC server: bootstrap with a join token, renewal with a certificate, every refusal.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { buildCertificate, createCsr, createLogger, generateKeyPair, meshProtos, type CreateCertificateResponse__Output, type IdentityClient, type KeyPair } from '@tsmesh/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCertificateAuthority, type CertificateAuthority } from '../src/ca/index.js';
import { createIdentityHandlers, MemoryCertificateProvider } from '../src/identity/index.js';
import { JoinTokens, type MintRequest } from '../src/tokens/index.js';

const TD = 'cluster.local';
const WEB = `spiffe://${TD}/ns/default/sa/web`;
const DB = `spiffe://${TD}/ns/default/sa/db`;
const HOUR = 3600_000;
const NO_PROOF = 'present a join token (meshctl token create) or a valid workload certificate';

let dataDir: string;
let ca: CertificateAuthority;
let tokens: JoinTokens;
let server: grpc.Server;
let provider: MemoryCertificateProvider;
let address: string;
let rootPem: string;
let keys: KeyPair[];
let clockOffset = 0;
const logLines: Array<Record<string, unknown>> = [];
const clients: grpc.Client[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-identity-'));
  keys = await Promise.all([generateKeyPair(), generateKeyPair(), generateKeyPair()]);
  ca = await initCertificateAuthority(dataDir, { trustDomain: TD });
  rootPem = ca.trustBundle().join('');
  tokens = await JoinTokens.open(dataDir, { now: () => Date.now() + clockOffset });
  const serving = await ca.issueServingCertificate({ ttlMs: HOUR });
  provider = new MemoryCertificateProvider({ caPem: ca.trustBundle(), certPem: serving.certChainPem, keyPem: serving.keyPem });
  const logger = createLogger('test', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));
  server = new grpc.Server();
  server.addService(meshProtos().identity.tsmesh.identity.v1.Identity.service, createIdentityHandlers({ ca, tokens, trustDomain: TD, logger }));
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  address = `127.0.0.1:${port}`;
});

afterEach(() => {
  clockOffset = 0;
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  server.forceShutdown();
  await tokens.close();
  await rm(dataDir, { recursive: true, force: true });
});

function key(index: number): KeyPair {
  const pair = keys[index];
  if (!pair) throw new Error(`no test key ${index}`);
  return pair;
}

function client(clientCert?: { keyPem: string; certChainPem: string[] }): IdentityClient {
  const credentials = clientCert
    ? grpc.credentials.createSsl(Buffer.from(rootPem), Buffer.from(clientCert.keyPem), Buffer.from(clientCert.certChainPem.join('')))
    : grpc.credentials.createSsl(Buffer.from(rootPem));
  const created = new (meshProtos().identity.tsmesh.identity.v1.Identity)(address, credentials);
  clients.push(created);
  return created;
}

type Outcome = { ok: true; value: CreateCertificateResponse__Output } | { ok: false; code: grpc.status; details: string };

function createCertificate(identity: IdentityClient, csrPem: string, options: { token?: string; ttlSeconds?: number } = {}): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  if (options.token !== undefined) metadata.set('authorization', `Bearer ${options.token}`);
  return new Promise((resolve) => {
    identity.CreateCertificate({ csr_pem: csrPem, requested_ttl_seconds: options.ttlSeconds ?? 0 }, metadata, { deadline: Date.now() + 10_000 }, (error, response) => {
      if (error) resolve({ ok: false, code: error.code, details: error.details });
      else if (response) resolve({ ok: true, value: response });
    });
  });
}

function mint(overrides: Partial<MintRequest> = {}): { token: string; tokenId: string } {
  const minted = tokens.mint({ namespace: 'default', serviceAccount: 'web', ttlMs: 10 * 60_000, trustDomain: TD, ...overrides });
  if (!minted.ok) throw new Error(minted.error);
  return minted.value;
}

async function bootstrap(keyIndex = 0): Promise<{ keyPem: string; certChainPem: string[] }> {
  const result = await createCertificate(client(), createCsr({ ...key(keyIndex), spiffeId: WEB }), { token: mint().token });
  if (!result.ok) throw new Error(result.details);
  return { keyPem: key(keyIndex).privateKeyPem, certChainPem: result.value.cert_chain_pem };
}

describe('bootstrap with a join token', () => {
  it('issues a certificate for the token identity that chains to the root, and logs it', async () => {
    const { token, tokenId } = mint();
    const started = Date.now();
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token });
    if (!result.ok) throw new Error(result.details);
    expect(result.value.spiffe_id).toBe(WEB);
    expect(result.value.trust_bundle_pem).toEqual(ca.trustBundle());
    const leaf = new X509Certificate(result.value.cert_chain_pem[0] ?? '');
    expect(leaf.subjectAltName).toBe(`URI:${WEB}`);
    expect(leaf.verify(new X509Certificate(rootPem).publicKey)).toBe(true);
    expect(result.value.not_after_unix_ms).toBe(new Date(leaf.validTo).getTime());
    expect(result.value.not_after_unix_ms - started).toBeGreaterThan(24 * HOUR - 5000);
    expect(tokens.uses(tokenId)).toBe(1);
    expect(logLines).toContainEqual(expect.objectContaining({ msg: 'issued workload certificate', spiffeId: WEB, serial: leaf.serialNumber, notAfter: new Date(leaf.validTo).toISOString(), tokenId }));
  });

  it('honours a shorter requested lifetime', async () => {
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token: mint().token, ttlSeconds: 60 });
    if (!result.ok) throw new Error(result.details);
    expect(result.value.not_after_unix_ms - Date.now()).toBeLessThanOrEqual(60_000);
    expect(result.value.not_after_unix_ms - Date.now()).toBeGreaterThan(55_000);
  });

  it('refuses a caller with neither token nor certificate: UNAUTHENTICATED', async () => {
    expect(await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }))).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: NO_PROOF });
  });

  it('refuses a malformed token: UNAUTHENTICATED', async () => {
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token: 'not-a-token' });
    expect(result).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: 'not a tsmesh join token: it does not start with "tsmesh-jt.v1."' });
  });

  it('refuses a forged token: UNAUTHENTICATED', async () => {
    const { token } = mint();
    const forged = `${token.slice(0, -3)}${token.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token: forged });
    expect(result).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: 'the join token signature is not valid: it was altered, or minted by another control plane' });
  });

  it('refuses an expired token: UNAUTHENTICATED, saying when it expired', async () => {
    const { token } = mint({ ttlMs: 1000 });
    clockOffset = 60_000;
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token });
    expect(result).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/^the join token expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s ago\); mint a new one/) });
  });

  it('refuses a single-use token the second time: PERMISSION_DENIED', async () => {
    const { token, tokenId } = mint();
    expect((await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token })).ok).toBe(true);
    const second = await createCertificate(client(), createCsr({ ...key(1), spiffeId: WEB }), { token });
    expect(second).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: `the join token ${tokenId} has been used 1 of 1 times; mint a new one with \`meshctl token create\`` });
  });

  it('refuses a CSR for another identity than the token: PERMISSION_DENIED naming both, token not spent', async () => {
    const { token, tokenId } = mint();
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: DB }), { token });
    expect(result).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: `the CSR asks for ${DB} but the caller proved ${WEB}` });
    expect(tokens.uses(tokenId)).toBe(0);
  });

  it('refuses a malformed CSR: INVALID_ARGUMENT, and the single-use token still works afterwards', async () => {
    const { token, tokenId } = mint();
    const result = await createCertificate(client(), 'not a csr', { token });
    expect(result).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^the CSR is not a PEM PKCS#10 RSA request: /) });
    expect(tokens.uses(tokenId)).toBe(0);
    expect((await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token })).ok).toBe(true);
  });

  it('refuses a negative requested lifetime: INVALID_ARGUMENT', async () => {
    const result = await createCertificate(client(), createCsr({ ...key(0), spiffeId: WEB }), { token: mint().token, ttlSeconds: -1 });
    expect(result).toEqual({ ok: false, code: grpc.status.INVALID_ARGUMENT, details: 'requested_ttl_seconds must be 0 (the default lifetime) or positive; got -1' });
  });

  it('lets exactly one of several concurrent callers spend a single-use token', async () => {
    const { token } = mint();
    const results = await Promise.all([0, 1, 2].map((i) => createCertificate(client(), createCsr({ ...key(i), spiffeId: WEB }), { token })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.code === grpc.status.PERMISSION_DENIED)).toHaveLength(2);
  });
});

describe('renewal with the current certificate', () => {
  it('renews the identity of the client certificate, without a token', async () => {
    const current = await bootstrap(0);
    const result = await createCertificate(client(current), createCsr({ ...key(1), spiffeId: WEB }));
    if (!result.ok) throw new Error(result.details);
    expect(new X509Certificate(result.value.cert_chain_pem[0] ?? '').subjectAltName).toBe(`URI:${WEB}`);
    expect(logLines).toContainEqual(expect.objectContaining({ msg: 'issued workload certificate', spiffeId: WEB, via: 'certificate' }));
  });

  it('refuses a renewal for another identity: PERMISSION_DENIED naming both', async () => {
    const current = await bootstrap(0);
    const result = await createCertificate(client(current), createCsr({ ...key(1), spiffeId: DB }));
    expect(result).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: `the CSR asks for ${DB} but the caller proved ${WEB}` });
  });

  it('ignores a client certificate that does not chain to the mesh root: UNAUTHENTICATED', async () => {
    const self = key(2);
    const foreignCa = buildCertificate({ publicKeyPem: self.publicKeyPem, issuerKeyPem: self.privateKeyPem, isCa: true, notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + HOUR) });
    const foreignLeaf = buildCertificate({ publicKeyPem: key(1).publicKeyPem, issuerCertPem: foreignCa, issuerKeyPem: self.privateKeyPem, spiffeId: WEB, isCa: false, notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + HOUR) });
    const result = await createCertificate(client({ keyPem: key(1).privateKeyPem, certChainPem: [foreignLeaf] }), createCsr({ ...key(1), spiffeId: WEB }));
    expect(result).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: NO_PROOF });
  });

  it('never issues the admin identity, even to an admin: PERMISSION_DENIED', async () => {
    const admin = await ca.issueAdminCertificate({ name: 'meshctl', ttlMs: HOUR });
    const adminId = `spiffe://${TD}/ns/mesh-system/sa/mesh-admin`;
    const result = await createCertificate(client(admin), createCsr({ ...key(1), spiffeId: adminId }));
    expect(result).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: `${adminId} is the admin identity; this service does not issue or renew it` });
  });
});

describe('MemoryCertificateProvider', () => {
  function servedSerial(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(address.split(':')[1]), ca: rootPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      });
      socket.on('error', reject);
    });
  }

  it('rotates the serving certificate of a running server', async () => {
    const before = await servedSerial();
    const next = await ca.issueServingCertificate({ ttlMs: HOUR });
    provider.update({ certPem: next.certChainPem, keyPem: next.keyPem });
    const after = await servedSerial();
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(next.certChainPem[0] ?? '').serialNumber);
  });

  it('refuses an update whose key does not match the certificate', async () => {
    const next = await ca.issueServingCertificate({ ttlMs: HOUR });
    expect(() => provider.update({ certPem: next.certChainPem, keyPem: key(0).privateKeyPem })).toThrow('keyPem does not match the first certificate of certPem');
    expect(() => provider.update({ certPem: next.certChainPem })).toThrow('certPem and keyPem must be updated together');
  });
});
