// Starts a whole mesh on loopback from the real binaries: control plane, example apps and their sidecars.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient, readMeshctlConfig } from '@tsmesh/control-plane';
import { spawnManaged, freePort, type ManagedProcess } from './processes.js';
import { EXAMPLE_NAMESPACE, type ExampleService } from './services.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = {
  controlPlane: join(REPO_ROOT, 'control-plane', 'bin', 'mesh-control-plane.js'),
  meshctl: join(REPO_ROOT, 'control-plane', 'bin', 'meshctl.js'),
  sidecar: join(REPO_ROOT, 'sidecar', 'bin', 'mesh-sidecar.js'),
  service: join(REPO_ROOT, 'examples', 'dist', 'service-main.js'),
};

export interface ControlPlaneHandle {
  process: ManagedProcess;
  address: string;
  meshctlConfigPath: string;
  // Where sidecars send spans when there is no collector: the control plane's embedded trace store.
  otlpEndpoint: string;
  httpAddress: string;
  streamAddress: string;
  admin: AdminClient;
  stop(): Promise<void>;
}

export async function initControlPlane(dataDir: string, extraArgs: string[] = []): Promise<void> {
  if (existsSync(join(dataDir, 'ca', 'ca.crt'))) return;
  const init = spawnManaged('init', process.execPath, [BIN.controlPlane, 'init', '--data-dir', dataDir, '--meshctl-config', join(dataDir, 'meshctl.yaml'), ...extraArgs]);
  const code = await init.exited;
  if (code !== 0) throw new Error(`mesh-control-plane init failed (${code}):\n${init.output()}`);
}

// defaultSidePorts: the HTTP and stream servers on their default ports (15014, 15015; any free one when
// taken), where meshctl looks without flags; otherwise any free ports, so that tests never collide.
export async function startControlPlane(dataDir: string, options: { port?: number; logDir?: string; args?: string[]; defaultSidePorts?: boolean } = {}): Promise<ControlPlaneHandle> {
  await initControlPlane(dataDir);
  const port = options.port ?? (await freePort());
  const sidePorts = options.defaultSidePorts === true ? [] : ['--http-listen', '127.0.0.1:0', '--stream-listen', '127.0.0.1:0'];
  const cp = spawnManaged('control-plane', process.execPath, [BIN.controlPlane, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...sidePorts, ...(options.args ?? [])], { logDir: options.logDir });
  const ready = await cp.waitForEvent((e) => e['event'] === 'listening');
  const address = String(ready['address']);
  const meshctlConfigPath = join(dataDir, 'meshctl.yaml');
  const config = readMeshctlConfig(meshctlConfigPath);
  if (!config.ok) throw new Error(config.error);
  const admin = new AdminClient({ ...config.value, server: address });
  return {
    process: cp,
    address,
    meshctlConfigPath,
    otlpEndpoint: String(ready['otlpEndpoint']),
    httpAddress: String(ready['httpAddress']),
    streamAddress: String(ready['streamAddress']),
    admin,
    stop: async () => {
      admin.close();
      await cp.stop();
    },
  };
}

export interface MeshedService {
  name: string;
  app: ManagedProcess | undefined;
  sidecar: ManagedProcess;
  appPort: number | undefined;
  outboundPort: number;
  inboundPort: number | undefined;
  adminPort: number;
  stop(): Promise<void>;
}

export interface SidecarLaunch {
  controlPlane: ControlPlaneHandle;
  dataDir: string;
  service: string;
  namespace?: string;
  serviceAccount?: string;
  appPort?: number;
  logDir?: string;
  extraArgs?: string[];
  tokenUses?: number;
  // Another build of mesh-sidecar (a test runs the bundle copied out of the checkout, as the image does).
  sidecarBin?: string;
}

export async function startSidecarProcess(launch: SidecarLaunch): Promise<{ process: ManagedProcess; outboundPort: number; inboundPort: number | undefined; adminPort: number }> {
  const namespace = launch.namespace ?? EXAMPLE_NAMESPACE;
  const token = await launch.controlPlane.admin.createJoinToken({ namespace, serviceAccount: launch.serviceAccount ?? launch.service, ttlSeconds: 600, maxUses: launch.tokenUses ?? 1 });
  const args = [
    launch.sidecarBin ?? BIN.sidecar, 'run',
    '--service', launch.service,
    '--namespace', namespace,
    '--service-account', launch.serviceAccount ?? launch.service,
    '--control-plane', launch.controlPlane.address,
    '--ca-file', join(launch.dataDir, 'ca', 'trust-bundle.pem'),
    '--inbound-port', '0', '--outbound-port', '0', '--admin-port', '0',
    ...(launch.appPort === undefined ? [] : ['--app-port', String(launch.appPort)]),
    // Without a collector, spans go to the control plane's trace store (meshctl traces); tests may override.
    '--otlp-endpoint', launch.controlPlane.otlpEndpoint, '--trace-sampling', '100',
    '--control-plane-stream', launch.controlPlane.streamAddress,
    ...(launch.extraArgs ?? []),
  ];
  const sidecar = spawnManaged(`sidecar-${launch.service}`, process.execPath, args, { env: { MESH_TOKEN: token.token }, logDir: launch.logDir });
  const ready = await sidecar.waitForEvent((e) => e['event'] === 'listening');
  const adminPort = Number(ready['adminPort']);
  await waitForReady(adminPort, sidecar);
  return { process: sidecar, outboundPort: Number(ready['outboundPort']), inboundPort: ready['inboundPort'] === undefined ? undefined : Number(ready['inboundPort']), adminPort };
}

// Polls the sidecar's /ready; the sidecar prints "listening" before it has its first config.
export async function waitForReady(adminPort: number, sidecar: ManagedProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      last = await res.text();
      if (res.status === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${sidecar.name} not ready after ${timeoutMs} ms (${last.trim()}); output:\n${sidecar.output()}`);
}

export async function startExampleService(name: ExampleService, controlPlane: ControlPlaneHandle, dataDir: string, logDir?: string, extraSidecarArgs: string[] = []): Promise<MeshedService> {
  // The sidecar needs the app's port before the app runs; the app learns the sidecar's outbound port from
  // its 'listening' event. Only the app's port is picked ahead: a port picked ahead can be taken meanwhile.
  const appPort = await freePort();
  const sidecar = await startSidecarProcess({ controlPlane, dataDir, service: name, appPort, logDir, extraArgs: extraSidecarArgs });
  const app = spawnManaged(`app-${name}`, process.execPath, [BIN.service, '--name', name, '--port', String(appPort)], { env: { HTTP_PROXY: `http://127.0.0.1:${sidecar.outboundPort}` }, logDir });
  await app.waitForEvent((e) => e['event'] === 'listening');
  return {
    name,
    app,
    sidecar: sidecar.process,
    appPort,
    outboundPort: sidecar.outboundPort,
    inboundPort: sidecar.inboundPort,
    adminPort: sidecar.adminPort,
    stop: async () => {
      await app.stop();
      await sidecar.process.stop();
    },
  };
}
