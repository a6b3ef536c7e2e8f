// A grpc-js CertificateProvider fed from memory, so a server's certificate and trust bundle rotate without a restart.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { experimental } from '@grpc/grpc-js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface CertificateUpdate {
  // The trust bundle: one PEM or several roots.
  caPem?: string | string[];
  // The certificate chain (leaf first) and its key; always given together.
  certPem?: string | string[];
  keyPem?: string;
}

function joinPem(pem: string | string[]): string {
  return Array.isArray(pem) ? pem.join('') : pem;
}

export class MemoryCertificateProvider implements experimental.CertificateProvider {
  private ca: experimental.CaCertificateUpdate | null = null;
  private identity: experimental.IdentityCertificateUpdate | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(initial: CertificateUpdate = {}) {
    this.update(initial);
  }

  // A key that does not match its certificate is a bug here, not a TLS error at the next handshake.
  update(next: CertificateUpdate): void {
    if ((next.certPem === undefined) !== (next.keyPem === undefined)) throw new Error('certPem and keyPem must be updated together');
    if (next.certPem !== undefined && next.keyPem !== undefined) {
      const certificate = joinPem(next.certPem);
      if (!new X509Certificate(certificate).checkPrivateKey(createPrivateKey(next.keyPem))) throw new Error('keyPem does not match the first certificate of certPem');
      this.identity = { certificate: Buffer.from(certificate), privateKey: Buffer.from(next.keyPem) };
      for (const listener of this.identityListeners) listener(this.identity);
    }
    if (next.caPem !== undefined) {
      this.ca = { caCertificate: Buffer.from(joinPem(next.caPem)) };
      for (const listener of this.caListeners) listener(this.ca);
    }
  }

  // Current values go to a new listener on the next tick, as grpc-js's own provider does: the
  // server registers its watcher only after adding its listeners, and would miss a synchronous call.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    if (this.ca) process.nextTick(() => this.caListeners.has(listener) && listener(this.ca));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    if (this.identity) process.nextTick(() => this.identityListeners.has(listener) && listener(this.identity));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
