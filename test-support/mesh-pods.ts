// Test fixture: a control plane in the pod network's host namespace and, per pod, the apps, the iptables rules and a sidecar as uid 1337.
import { chmodSync, chownSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO_ROOT } from '../examples/src/launcher.js';
import type { ManagedProcess } from '../examples/src/processes.js';
import type { ClientFailure } from '../examples/src/netns-apps/contract.js';
import { createPodNetwork, run, type Pod, type PodNetwork, type RunResult } from './netns.js';
import { tempDir } from './control-plane.js';

export const PROXY_UID = 1337;
export const MESH_NAMESPACE = 'pods';
export const CP_PORT = 15012;
// What every pod serves, as the sidecar's --app-ports: 7001 names no protocol, so the sidecar has to detect it.
export const APP_PORTS = '8080/http,9090/grpc,7000/tcp,7001';
const APPS = join(REPO_ROOT, 'examples', 'dist', 'netns-apps');

export interface MeshPods {
  net: PodNetwork;
  dir: string;
  cpAddress: string;
  // Where each process writes its log, kept until teardown for failure messages.
  logDir: string;
  meshctl(args: string[]): Promise<RunResult>;
  // Runs the pod client as root with no proxy settings; its JSON line, or the failure it printed.
  client<T>(pod: Pod, args: string[]): Promise<T | ClientFailure>;
  startApps(pod: Pod, marker: string): Promise<ManagedProcess>;
  startSidecar(pod: Pod): Promise<ManagedProcess>;
  iptables(pod: Pod, action: 'install' | 'uninstall'): Promise<RunResult>;
  sidecarLog(pod: Pod): string;
  teardown(): Promise<void>;
}

export const failed = (value: object): value is ClientFailure => 'error' in value;

// No proxy variables reach the apps: they know nothing of the mesh.
const NO_PROXY_ENV = { HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '', grpc_proxy: '', NO_PROXY: '', no_proxy: '' };

export async function startMeshPods(podNames: string[]): Promise<MeshPods> {
  const dir = tempDir('pods');
  // The sidecars run as uid 1337 and read the trust bundle, their token and the addon from here.
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'cp');
  // TSMESH_NETNS_LOGS keeps the processes' logs past teardown, for a failure to be read afterwards.
  const logDir = process.env['TSMESH_NETNS_LOGS'] ?? join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const net = await createPodNetwork(podNames).catch((error: Error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const cpAddress = `${net.host.ip}:${CP_PORT}`;
  const sidecars = new Map<string, ManagedProcess>();
  const node = process.execPath;

  const fixture: MeshPods = {
    net,
    dir,
    cpAddress,
    logDir,
    meshctl: (args) => net.exec(net.host.ns, [node, BIN.meshctl, '--config', join(dataDir, 'meshctl.yaml'), '--server', cpAddress, ...args], { timeoutMs: 20_000 }),
    async client<T>(pod: Pod, args: string[]) {
      const result = await net.exec(pod.ns, [node, join(APPS, 'client.js'), ...args], { timeoutMs: 25_000, env: NO_PROXY_ENV });
      const line = result.stdout.trim().split('\n').pop() ?? '';
      try {
        return JSON.parse(line) as T | ClientFailure;
      } catch {
        return { error: `client exited ${result.code}: ${result.stdout}${result.stderr}` };
      }
    },
    async startApps(pod, marker) {
      const apps = net.spawn(pod.ns, `apps-${pod.name}`, [node, join(APPS, 'servers.js'), '--pod', pod.name, '--marker', marker], { logDir, env: NO_PROXY_ENV });
      await apps.waitForEvent((event) => event['event'] === 'listening', 15_000);
      return apps;
    },
    async startSidecar(pod) {
      const minted = await fixture.meshctl(['token', 'create', '--namespace', MESH_NAMESPACE, '--service-account', pod.name, '--ttl', '10m', '-o', 'json']);
      if (minted.code !== 0) throw new Error(`meshctl token create for ${pod.name} failed (${minted.code}): ${minted.stderr}`);
      const tokenFile = join(dir, `token-${pod.name}`);
      writeFileSync(tokenFile, (JSON.parse(minted.stdout) as { token: string }).token, { mode: 0o600 });
      chownSync(tokenFile, PROXY_UID, PROXY_UID);
      const args = [
        node, BIN.sidecar, 'run',
        '--service', pod.name, '--namespace', MESH_NAMESPACE,
        '--ca-file', join(dir, 'trust-bundle.pem'), '--token-file', tokenFile,
        '--control-plane', cpAddress, '--control-plane-stream', 'off',
        '--bind', '0.0.0.0', '--advertise-address', `${pod.ip}:15006`, '--pod-ip', pod.ip,
        '--app-port', '8080', '--app-ports', APP_PORTS, '--transparent',
        '--admin-port', '15000', '--inbound-port', '15006', '--outbound-port', '15001',
      ];
      const env = { MESH_ORIGINAL_DST_ADDON: join(dir, 'original_dst.node'), ...NO_PROXY_ENV };
      const sidecar = net.spawn(pod.ns, `sidecar-${pod.name}`, args, { uid: PROXY_UID, gid: PROXY_UID, env, logDir });
      sidecars.set(pod.name, sidecar);
      await sidecar.waitForEvent((event) => event['event'] === 'listening', 20_000);
      // "listening" comes before the first config; /ready says the sidecar has its certificate and config.
      const ready = await fixture.client<{ status: number }>(pod, ['wait-ready', 'http://127.0.0.1:15000/ready', '20000']);
      if (failed(ready)) throw new Error(`sidecar in ${pod.name} not ready: ${ready.error}\n${sidecar.output()}`);
      return sidecar;
    },
    iptables: (pod, action) =>
      net.exec(pod.ns, [node, BIN.sidecar, 'iptables', action, ...(action === 'install' ? ['--proxy-uid', String(PROXY_UID), '--exclude-inbound-ports', '15000'] : [])]),
    sidecarLog: (pod) => sidecars.get(pod.name)?.output() ?? '(no sidecar)',
    async teardown() {
      try {
        await net.teardown();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    const built = await run(node, [join(REPO_ROOT, 'sidecar', 'native', 'build.mjs'), '--out', dir], { timeoutMs: 120_000 });
    if (built.code !== 0) throw new Error(`the SO_ORIGINAL_DST addon did not build: ${built.stderr.trim()}`);
    chmodSync(join(dir, 'original_dst.node'), 0o644);
    const init = await run(node, [BIN.controlPlane, 'init', '--data-dir', dataDir, '--meshctl-config', join(dataDir, 'meshctl.yaml')]);
    if (init.code !== 0) throw new Error(`mesh-control-plane init failed (${init.code}): ${init.stderr}`);
    copyFileSync(join(dataDir, 'ca', 'trust-bundle.pem'), join(dir, 'trust-bundle.pem'));
    chmodSync(join(dir, 'trust-bundle.pem'), 0o644);
    const cp = net.spawn(net.host.ns, 'control-plane', [node, BIN.controlPlane, 'serve', '--data-dir', dataDir, '--listen', cpAddress, '--http-listen', '127.0.0.1:0', '--stream-listen', '127.0.0.1:0'], { logDir });
    await cp.waitForEvent((event) => event['event'] === 'listening', 20_000);
  } catch (error) {
    await fixture.teardown().catch(() => undefined);
    throw error;
  }
  return fixture;
}
