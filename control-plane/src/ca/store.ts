// The CA on disk: created once by `mesh-control-plane init`, loaded at every start.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createLogger, generateKeyPair, isValidTrustDomain, splitPemBundle, type Logger } from '@tsmesh/proto';
import { CertificateAuthority, type CertificateAuthorityOptions } from './authority.js';
import { buildParsableCertificate } from './build.js';
import { checkCaMaterial, normalizeMaterial, normalizePem, validateSuppliedCa, type CaMaterial, type SuppliedCa } from './chain.js';
import { CaSetupError } from './errors.js';
import { ensurePrivateDir, exists, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, writeFileAtomic } from './files.js';
import { DEFAULT_ROOT_TTL_MS, validityWindow } from './lifetime.js';

export const CA_FILES = {
  key: 'ca.key',
  cert: 'ca.crt',
  chain: 'chain.pem',
  trustBundle: 'trust-bundle.pem',
  meta: 'ca.json',
} as const;

export interface CaMetadata {
  version: 1;
  trustDomain: string;
  createdAt: string;
  source: 'generated' | 'supplied';
}

export interface InitCertificateAuthorityOptions extends CertificateAuthorityOptions {
  trustDomain: string;
  rootTtlMs?: number;
  // An operator's root, or intermediate plus the chain up to its root, instead of a generated root.
  supplied?: SuppliedCa;
  force?: boolean;
  // With force: keep the current, unexpired roots in the trust bundle so that certificates the old
  // CA issued stay trusted until they are renewed (root rotation without an outage).
  keepPreviousRoots?: boolean;
}

export function caDir(dataDir: string): string {
  return join(dataDir, 'ca');
}

function runInitFirst(dataDir: string): string {
  return `run \`mesh-control-plane init --data-dir ${dataDir}\` first`;
}

async function generateRoot(trustDomain: string, ttlMs: number, nowMs: number): Promise<CaMaterial> {
  const keys = await generateKeyPair();
  const window = validityWindow(nowMs, ttlMs, Number.POSITIVE_INFINITY);
  if (!window) throw new CaSetupError(`root lifetime ${ttlMs} ms is too short`);
  const { pem: certPem } = buildParsableCertificate({
    publicKeyPem: keys.publicKeyPem,
    issuerKeyPem: keys.privateKeyPem,
    subjectCommonName: `tsmesh root CA ${trustDomain}`,
    // A signing certificate is itself an SVID of its trust domain (SPIFFE X509-SVID spec, 4.1).
    spiffeId: `spiffe://${trustDomain}`,
    isCa: true,
    ...window,
  });
  return { signingCertPem: certPem, signingKeyPem: keys.privateKeyPem, intermediatesPem: [], rootsPem: [certPem] };
}

async function previousRoots(dir: string, nowMs: number, newRoots: string[]): Promise<string[]> {
  let bundle: string;
  try {
    bundle = await readFile(join(dir, CA_FILES.trustBundle), 'utf8');
  } catch {
    return [];
  }
  const fresh = new Set(newRoots.map((pem) => new X509Certificate(pem).fingerprint256));
  return splitPemBundle(bundle).map(normalizePem).filter((pem) => {
    const cert = new X509Certificate(pem);
    return new Date(cert.validTo).getTime() > nowMs && !fresh.has(cert.fingerprint256);
  });
}

export async function initCertificateAuthority(dataDir: string, options: InitCertificateAuthorityOptions): Promise<CertificateAuthority> {
  const { trustDomain, rootTtlMs = DEFAULT_ROOT_TTL_MS } = options;
  if (!isValidTrustDomain(trustDomain)) throw new CaSetupError(`trust domain "${trustDomain}" is not valid (lower-case letters, digits, ".", "-", "_")`);
  if (!Number.isFinite(rootTtlMs) || rootTtlMs <= 0) throw new CaSetupError(`root lifetime must be a positive number of milliseconds; got ${rootTtlMs}`);
  const nowMs = (options.now ?? Date.now)();
  const dir = caDir(dataDir);
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await ensurePrivateDir(dir);
  const existing = (await exists(join(dir, CA_FILES.meta))) || (await exists(join(dir, CA_FILES.key)));
  if (existing && !options.force) {
    throw new CaSetupError(
      `a certificate authority already exists in ${dir}; pass --force to replace it (certificates it issued stop being trusted unless its root is kept)`,
    );
  }
  const material = normalizeMaterial(options.supplied ? validateSuppliedCa(options.supplied, nowMs) : await generateRoot(trustDomain, rootTtlMs, nowMs));
  if (existing && options.keepPreviousRoots) material.rootsPem.push(...(await previousRoots(dir, nowMs, material.rootsPem)));
  const meta: CaMetadata = { version: 1, trustDomain, createdAt: new Date(nowMs).toISOString(), source: options.supplied ? 'supplied' : 'generated' };
  await writeFileAtomic(join(dir, CA_FILES.key), material.signingKeyPem, PRIVATE_FILE_MODE);
  await writeFileAtomic(join(dir, CA_FILES.cert), material.signingCertPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(join(dir, CA_FILES.chain), material.intermediatesPem.join(''), PUBLIC_FILE_MODE);
  await writeFileAtomic(join(dir, CA_FILES.trustBundle), material.rootsPem.join(''), PUBLIC_FILE_MODE);
  // Written last: its presence marks a complete CA.
  await writeFileAtomic(join(dir, CA_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`, PUBLIC_FILE_MODE);
  return new CertificateAuthority(trustDomain, material, options);
}

async function readCaFile(dataDir: string, name: string): Promise<string> {
  const path = join(caDir(dataDir), name);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CaSetupError(`${path} is missing: the CA in ${caDir(dataDir)} is incomplete; restore it, or replace it with \`mesh-control-plane init --data-dir ${dataDir} --force\``);
    if (code === 'EACCES') throw new CaSetupError(`${path} is not readable by this user (permission denied)`);
    throw new CaSetupError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function parseMetadata(text: string, path: string): CaMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CaSetupError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const meta = value as Partial<CaMetadata> | null;
  if (!meta || typeof meta !== 'object' || meta.version !== 1 || typeof meta.trustDomain !== 'string' || !isValidTrustDomain(meta.trustDomain)) {
    throw new CaSetupError(`${path} is not tsmesh CA metadata (version 1 with a valid trustDomain)`);
  }
  return { version: 1, trustDomain: meta.trustDomain, createdAt: String(meta.createdAt ?? ''), source: meta.source === 'supplied' ? 'supplied' : 'generated' };
}

export interface LoadCertificateAuthorityOptions extends CertificateAuthorityOptions {
  logger?: Logger;
}

export async function loadCertificateAuthority(dataDir: string, options: LoadCertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
  const dir = caDir(dataDir);
  if (!(await exists(join(dir, CA_FILES.meta)))) throw new CaSetupError(`no certificate authority in ${dataDir}: ${runInitFirst(dataDir)}`);
  const meta = parseMetadata(await readCaFile(dataDir, CA_FILES.meta), join(dir, CA_FILES.meta));
  const material: CaMaterial = {
    signingKeyPem: await readCaFile(dataDir, CA_FILES.key),
    signingCertPem: await readCaFile(dataDir, CA_FILES.cert),
    intermediatesPem: splitPemBundle(await readCaFile(dataDir, CA_FILES.chain)),
    rootsPem: splitPemBundle(await readCaFile(dataDir, CA_FILES.trustBundle)),
  };
  const keyMode = (await stat(join(dir, CA_FILES.key))).mode & 0o777;
  if ((keyMode & 0o077) !== 0) {
    (options.logger ?? createLogger('control-plane.ca')).warn('the CA key is readable by other users; chmod 600 it', { path: join(dir, CA_FILES.key), mode: keyMode.toString(8) });
  }
  checkCaMaterial(material, dir, (options.now ?? Date.now)());
  return new CertificateAuthority(meta.trustDomain, material, options);
}
