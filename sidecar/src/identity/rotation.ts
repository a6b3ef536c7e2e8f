// Renews the workload certificate at about half its life, with jitter, and swaps it in live.
import type { Logger } from '@tsmesh/proto';
import { Backoff } from '../discovery/backoff.js';
import { requestCertificate, type CertificateRequestOptions } from './identity-client.js';
import type { MutableTlsMaterialSource, TlsMaterial } from './tls-material.js';

export interface RotationOptions extends Omit<CertificateRequestOptions, 'joinToken' | 'current' | 'trustBundlePem'> {
  logger: Logger;
  random?: () => number;
}

// When to renew: between 45% and 55% of the remaining life, so a fleet started together spreads out.
export function renewalDelayMs(material: TlsMaterial, now: number, random: () => number): number {
  const remaining = material.notAfter.getTime() - now;
  return Math.max(0, Math.floor(remaining * (0.45 + 0.1 * random())));
}

export class CertificateRotator {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff = new Backoff({ baseMs: 500, maxMs: 30_000 });
  private readonly random: () => number;
  rotations = 0;

  constructor(
    private readonly source: MutableTlsMaterialSource,
    private readonly options: RotationOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  start(): void {
    this.schedule(renewalDelayMs(this.source.current(), Date.now(), this.random));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  // Trust bundle changes arrive on the discovery stream; the key and certificate stay.
  updateTrustBundle(rootsPem: string[]): void {
    const current = this.source.current();
    if (current.trustBundlePem.join('') === rootsPem.join('')) return;
    this.source.update({ ...current, trustBundlePem: rootsPem });
    this.options.logger.info('trust bundle updated', { roots: rootsPem.length });
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), delayMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const current = this.source.current();
    const result = await requestCertificate({ ...this.options, current, trustBundlePem: current.trustBundlePem });
    if (this.stopped) return;
    if (!result.ok) {
      const delay = Math.min(this.backoff.next(), Math.max(0, current.notAfter.getTime() - Date.now()));
      // Keep serving with the current certificate; it is still valid until notAfter.
      this.options.logger.warn('certificate renewal failed; will retry', { error: result.error, retryInMs: delay, notAfter: current.notAfter.toISOString() });
      this.schedule(Math.max(delay, 100));
      return;
    }
    this.backoff.reset();
    this.rotations++;
    this.source.update({ ...result.value, trustBundlePem: mergeBundles(current.trustBundlePem, result.value.trustBundlePem) });
    this.options.logger.info('certificate rotated', { spiffeId: result.value.spiffeId, notAfter: result.value.notAfter.toISOString(), rotations: this.rotations });
    this.schedule(renewalDelayMs(this.source.current(), Date.now(), this.random));
  }
}

// The CA's answer is authoritative for the roots; fall back to what we had if it sent none.
function mergeBundles(current: string[], fromCa: string[]): string[] {
  return fromCa.length > 0 ? fromCa : current;
}
