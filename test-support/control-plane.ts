// Test fixture: a real control plane (CA on disk, gRPC server on 127.0.0.1:0) and workload certificates from it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, formatSpiffeId, generateKeyPair, createLogger, type Node } from '@tsmesh/proto';
import { initCertificateAuthority, startControlPlaneServer, controlPlaneSpiffeId, type RunningControlPlane, type MeshctlConfig } from '@tsmesh/control-plane';
import { MutableTlsMaterialSource, type TlsMaterial } from '../sidecar/src/identity/tls-material.js';
import { DiscoveryClient } from '../sidecar/src/discovery/client.js';

export const TRUST_DOMAIN = 'cluster.local';

export interface TestControlPlane {
  dataDir: string;
  running: RunningControlPlane;
  address: string;
  controlPlaneIdentity: string;
  issueWorkload(namespace: string, serviceAccount: string, ttlMs?: number): Promise<TlsMaterial>;
  adminConfig(): Promise<MeshctlConfig>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tsmesh-${prefix}-`));
}

// Quiet unless a test run asks for logs.
export const testLogger = createLogger('test', (line) => {
  if (process.env['MESH_TEST_LOGS']) process.stderr.write(line);
});

export async function startTestControlPlane(options: { debounceMs?: number; workloadCertTtlMs?: number } = {}): Promise<TestControlPlane> {
  const dataDir = tempDir('cp');
  const ca = await initCertificateAuthority(dataDir, { trustDomain: TRUST_DOMAIN });
  const start = (listen: string): Promise<RunningControlPlane> =>
    startControlPlaneServer({ dataDir, listen, debounceMs: options.debounceMs ?? 20, workloadCertTtlMs: options.workloadCertTtlMs, logger: testLogger });
  let running = await start('127.0.0.1:0');
  const fixture: TestControlPlane = {
    dataDir,
    running,
    address: running.address,
    controlPlaneIdentity: controlPlaneSpiffeId(TRUST_DOMAIN),
    async issueWorkload(namespace, serviceAccount, ttlMs) {
      const keys = await generateKeyPair();
      const spiffeId = formatSpiffeId({ trustDomain: TRUST_DOMAIN, namespace, serviceAccount });
      const signed = fixture.running.ca.signWorkload(createCsr({ ...keys, spiffeId }), { expectedSpiffeId: spiffeId, ...(ttlMs ? { ttlMs } : {}) });
      if (!signed.ok) throw new Error(signed.error.message);
      return { keyPem: keys.privateKeyPem, certChainPem: signed.value.certChainPem.join(''), trustBundlePem: signed.value.trustBundlePem, spiffeId, notAfter: signed.value.notAfter };
    },
    async adminConfig() {
      const admin = await ca.issueAdminCertificate({ name: 'test', ttlMs: 3600_000 });
      return {
        server: fixture.address,
        trustDomain: TRUST_DOMAIN,
        controlPlaneIdentity: fixture.controlPlaneIdentity,
        certificateAuthorityData: ca.trustBundle().join(''),
        clientCertificateData: admin.certChainPem.join(''),
        clientKeyData: admin.keyPem,
      };
    },
    async restart() {
      running = await start(fixture.address);
      fixture.running = running;
    },
    stop: () => fixture.running.stop(),
    async cleanup() {
      await fixture.running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fixture;
}

// Polls until `check` returns a value that is not undefined; fails with `what` after the timeout.
export async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

// Sidecar discovery clients (the sidecar's own) against a test control plane, all stopped together.
export class DiscoveryClients {
  private readonly clients: DiscoveryClient[] = [];

  constructor(private readonly cp: () => TestControlPlane) {}

  connect(material: TlsMaterial, node: Node, onTrustBundle: (roots: string[]) => void = () => undefined, options: { reconnectGraceMs?: number } = {}): DiscoveryClient {
    const cp = this.cp();
    const client = new DiscoveryClient({
      ...options,
      controlPlaneAddress: cp.address,
      controlPlaneIdentity: cp.controlPlaneIdentity,
      trustDomain: TRUST_DOMAIN,
      node,
      tls: new MutableTlsMaterialSource(material),
      logger: testLogger,
      onTrustBundle,
      backoff: { baseMs: 50, maxMs: 300 },
      resolveTimeoutMs: 2_000,
    });
    client.start();
    this.clients.push(client);
    return client;
  }

  stopAll(): void {
    for (const client of this.clients.splice(0)) client.stop();
  }
}
