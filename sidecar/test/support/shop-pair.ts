// The common test set-up: frontend.shop calls orders.shop through a sidecar pair; certificates made once per file, everything closed after each test.
import { afterEach, beforeAll } from 'vitest';
import type { TlsMaterial } from '../../src/identity/tls-material.js';
import { Cleanup } from './mesh.js';
import { startPair, type Pair, type PairOptions } from './pair.js';
import { callerAndServer } from './pki.js';

export interface ShopPair {
  cleanup: Cleanup;
  // A pair in front of the app on appPort, closed by cleanup.
  start(appPort: number, options?: Partial<Omit<PairOptions, 'cleanup' | 'clientTls' | 'serverTls' | 'appPort'>>): Promise<Pair>;
}

// Call at a test file's top level: it registers the file's beforeAll and afterEach.
export function shopPair(): ShopPair {
  const cleanup = new Cleanup();
  let tls: { caller: TlsMaterial; server: TlsMaterial } | undefined;
  beforeAll(async () => {
    tls = await callerAndServer('spiffe://cluster.local/ns/shop/sa/frontend', 'spiffe://cluster.local/ns/shop/sa/orders');
  });
  afterEach(() => cleanup.run());
  return {
    cleanup,
    start: (appPort, options = {}) => {
      if (tls === undefined) throw new Error('shopPair().start runs inside a test, after beforeAll made the certificates');
      return startPair({ ...options, cleanup, clientTls: tls.caller, serverTls: tls.server, appPort });
    },
  };
}
