// Test fixture: a real control plane in Kubernetes mode against a recorded API server, with its log lines kept.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tsmesh/proto';
import { initCertificateAuthority } from '../src/ca/index.js';
import { startControlPlaneServer, controlPlaneSpiffeId, type RunningControlPlane } from '../src/server.js';
import type { MeshctlConfig } from '../src/cli/client-config.js';
import type { FakeApiServer } from './k8s-api-server.js';

export interface KubernetesControlPlane {
  running: RunningControlPlane;
  dataDir: string;
  logs: Array<Record<string, unknown>>;
  adminConfig(): Promise<MeshctlConfig>;
  stop(): Promise<void>;
}

// A second replica copies the first one's CA, as replicas in a cluster mount the same mesh-ca Secret.
export async function startKubernetesControlPlane(api: FakeApiServer, options: { sameCaAs?: KubernetesControlPlane } = {}): Promise<KubernetesControlPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-k8s-cp-'));
  if (options.sameCaAs) await cp(join(options.sameCaAs.dataDir, 'ca'), join(dataDir, 'ca'), { recursive: true });
  else await initCertificateAuthority(dataDir, { trustDomain: 'cluster.local' });
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('test', (line) => {
    logs.push(JSON.parse(line) as Record<string, unknown>);
    if (process.env['MESH_TEST_LOGS']) process.stderr.write(line);
  });
  const running = await startControlPlaneServer({ dataDir, listen: '127.0.0.1:0', debounceMs: 10, logger, kubernetes: { kubeConfig: api.kubeConfig(), backoff: { baseMs: 20, maxMs: 100 } } });
  return {
    running,
    dataDir,
    logs,
    async adminConfig() {
      const admin = await running.ca.issueAdminCertificate({ name: 'test', ttlMs: 3600_000 });
      return { server: running.address, trustDomain: 'cluster.local', controlPlaneIdentity: controlPlaneSpiffeId('cluster.local'), certificateAuthorityData: running.ca.trustBundle().join(''), clientCertificateData: admin.certChainPem.join(''), clientKeyData: admin.keyPem };
    },
    async stop() {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
