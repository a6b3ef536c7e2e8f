// `mesh-control-plane serve --kubeconfig FILE` as a process: reaches the recorded API server, serves, and refuses bad Kubernetes flags clearly.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCertificateAuthority } from '../src/ca/index.js';
import { CLUSTER_TOKEN, FakeApiServer, serveRecordedCluster } from './k8s-api-server.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'mesh-control-plane.js');
let api: FakeApiServer;
let dir: string;

beforeAll(async () => {
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  dir = await mkdtemp(join(tmpdir(), 'tsmesh-k8s-serve-'));
  await initCertificateAuthority(dir, { trustDomain: 'cluster.local' });
  const kubeconfig = ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: recorded', '  cluster:', `    server: ${api.url}`, `    certificate-authority-data: ${Buffer.from(api.caPem).toString('base64')}`, 'users:', '- name: cp', '  user:', `    token: ${CLUSTER_TOKEN}`, 'contexts:', '- name: recorded', '  context: {cluster: recorded, user: cp}', 'current-context: recorded', ''];
  await writeFile(join(dir, 'kubeconfig'), kubeconfig.join('\n'));
});

afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

// Resolves with the first stdout line, or with stderr and the exit code if the process ends first.
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ line?: string; stderr: string; code?: number | null }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--stream-listen', '127.0.0.1:0', ...args], { env: { PATH: process.env['PATH'], ...env } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.stdout.once('data', (chunk: Buffer) => {
      child.kill('SIGTERM');
      resolve({ line: chunk.toString().trim(), stderr });
    });
    child.once('exit', (code) => resolve({ stderr, code }));
  });
}

describe('mesh-control-plane serve in Kubernetes mode', () => {
  it('starts with --kubeconfig once the resources and endpoints are listed', async () => {
    const result = await serve(['--kubeconfig', join(dir, 'kubeconfig')]);
    expect(JSON.parse(result.line ?? '{}')).toMatchObject({ event: 'listening', trustDomain: 'cluster.local' });
    expect(result.stderr).toContain('kubernetes mode: resources and endpoints listed');
    expect(api.requests.some((r) => r.path === '/apis/discovery.k8s.io/v1/endpointslices')).toBe(true);
  });

  it.each([
    [['--kubernetes'], {}, '--kubernetes: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so this is not a pod; outside a cluster use --kubeconfig FILE'],
    [['--kubernetes', '--kubeconfig', 'x'], {}, "--kubernetes (the pod's own service account) and --kubeconfig FILE are two ways to reach the API server; give one"],
    [['--token-audience', 'tsmesh'], {}, '--token-audience needs --kubernetes or --kubeconfig'],
    [['--kubeconfig', '/nonexistent/kubeconfig'], {}, '--kubeconfig: cannot load /nonexistent/kubeconfig: ENOENT'],
  ])('refuses %j with a message saying what to do', async (args, env, message) => {
    const result = await serve(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`mesh-control-plane: ${message}`);
  });
});
