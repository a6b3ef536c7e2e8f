// Scenario M and the control-plane figures: a real mesh-control-plane and mesh-sidecar processes from the built binaries.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient, readMeshctlConfig, SIDECAR_NODE_OPTIONS } from '@tsmesh/control-plane';
import { startProcess, sleep } from './procs.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The binaries of a built tree: this checkout's, or another's (bench/ab.mjs compares two builds).
export const binariesOf = (root) => ({
  controlPlane: join(root, 'control-plane', 'bin', 'mesh-control-plane.js'),
  sidecar: join(root, 'sidecar', 'bin', 'mesh-sidecar.js'),
});
export const BIN = binariesOf(REPO_ROOT);

export async function startControlPlane(dataDir, bin = BIN) {
  const init = startProcess('cp-init', process.execPath, [bin.controlPlane, 'init', '--data-dir', dataDir, '--meshctl-config', join(dataDir, 'meshctl.yaml')]);
  const code = await init.exited;
  if (code !== 0) throw new Error(`mesh-control-plane init failed (${code}):\n${init.output()}`);
  const proc = startProcess('control-plane', process.execPath, [bin.controlPlane, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  const ready = await proc.waitForEvent((e) => e.event === 'listening');
  const address = String(ready.address);
  const config = readMeshctlConfig(join(dataDir, 'meshctl.yaml'));
  if (!config.ok) throw new Error(config.error);
  const meshctlConfig = { ...config.value, server: address };
  const admin = new AdminClient(meshctlConfig);
  return { proc, address, admin, dataDir, meshctlConfig, bin };
}

// The V8 flags a sidecar ships with (the injected container's NODE_OPTIONS); NODE_OPTIONS: '' in env gives Node's defaults.
export const SHIPPED_NODE_OPTIONS = SIDECAR_NODE_OPTIONS;

// One sidecar with its default pipeline; nodeArgs e.g. ['--cpu-prof', '--cpu-prof-dir', dir].
// env adds to the sidecar's environment (e.g. the memory probe's MEM_PROBE_FILE).
export async function startSidecar(cp, { service, namespace, appPort, nodeArgs = [], name, env = {} }) {
  const token = await cp.admin.createJoinToken({ namespace, serviceAccount: service, ttlSeconds: 600, maxUses: 1 });
  const args = [
    ...nodeArgs,
    cp.bin.sidecar, 'run',
    '--service', service,
    '--namespace', namespace,
    '--control-plane', cp.address,
    '--ca-file', join(cp.dataDir, 'ca', 'trust-bundle.pem'),
    '--inbound-port', '0', '--outbound-port', '0', '--admin-port', '0',
    ...(appPort === undefined ? [] : ['--app-port', String(appPort)]),
  ];
  const proc = startProcess(name ?? `sidecar-${service}`, process.execPath, args, { env: { NODE_OPTIONS: SHIPPED_NODE_OPTIONS, ...env, MESH_TOKEN: token.token } });
  const ready = await proc.waitForEvent((e) => e.event === 'listening');
  const adminPort = Number(ready.adminPort);
  const deadline = Date.now() + 20_000;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      last = await res.text();
      if (res.status === 200) break;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready: ${last}\n${proc.output()}`);
    await sleep(50);
  }
  return { proc, outboundPort: Number(ready.outboundPort), inboundPort: ready.inboundPort === undefined ? undefined : Number(ready.inboundPort), adminPort };
}

// Scenario M: client-only sidecar -> (mTLS h2) -> server sidecar for service backend.bench -> nginx.
export async function startMeshPair(cp, backendPort, nodeArgs = [], envFor = () => ({})) {
  const server = await startSidecar(cp, { service: 'backend', namespace: 'bench', appPort: backendPort, nodeArgs, name: 'sidecar-server', env: envFor('server') });
  const client = await startSidecar(cp, { service: 'client', namespace: 'bench', nodeArgs, name: 'sidecar-client', env: envFor('client') });
  return { client: client.proc, server: server.proc, entryPort: client.outboundPort, meshPort: server.inboundPort, hostHeader: 'backend.bench' };
}
