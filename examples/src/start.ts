// npm start: a working mesh on loopback, with a trickle of traffic and a live line of what flows.
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defaultHttpServer, readMeshctlConfig, streamServerAddress } from '@tsmesh/control-plane';
import { initControlPlane, startControlPlane, startExampleService, startSidecarProcess, REPO_ROOT, type MeshedService } from './launcher.js';
import { portFree } from './processes.js';
import { callThroughProxy } from './mesh-http.js';
import { EXAMPLE_NAMESPACE, EXAMPLE_SERVICES } from './services.js';
import { TrafficStats } from './traffic-stats.js';

const dataDir = process.env['MESH_DATA_DIR'] ?? join(REPO_ROOT, '.mesh');
const logDir = join(dataDir, 'logs');
const ratePerSecond = Number(process.env['MESH_DEMO_RPS'] ?? '5');
const out = (line: string): void => void process.stdout.write(`${line}\n`);

mkdirSync(logDir, { recursive: true });
out(`tsmesh: starting the mesh (data in ${relative(process.cwd(), dataDir) || '.'}, logs in ${relative(process.cwd(), logDir)})`);

const stoppers: Array<() => Promise<void>> = [];
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    out('\ntsmesh: stopping...');
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    out('tsmesh: stopped');
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  // On the address meshctl's config names (127.0.0.1:15012 unless init was told otherwise), so that the
  // README's meshctl commands work without flags; another port only when that one is taken.
  await initControlPlane(dataDir);
  const config = readMeshctlConfig(join(dataDir, 'meshctl.yaml'));
  const configured = config.ok ? config.value.server : undefined;
  const configuredPort = configured !== undefined && configured.startsWith('127.0.0.1:') ? Number(configured.slice('127.0.0.1:'.length)) : NaN;
  const usePort = Number.isInteger(configuredPort) && (await portFree(configuredPort)) ? configuredPort : undefined;
  const controlPlane = await startControlPlane(dataDir, { logDir, defaultSidePorts: true, ...(usePort !== undefined ? { port: usePort } : {}) });
  if (configured !== undefined && controlPlane.address !== configured) {
    out(`note: ${configured} (meshctl's default, from ${controlPlane.meshctlConfigPath}) is taken, perhaps by another control plane; this one listens on ${controlPlane.address}, so give meshctl the flags printed below`);
  }
  stoppers.push(() => controlPlane.stop());
  const services: MeshedService[] = [];
  // Leaves first, so that every caller finds its callee registered.
  for (const name of [...EXAMPLE_SERVICES].reverse()) {
    const service = await startExampleService(name, controlPlane, dataDir, logDir);
    stoppers.push(() => service.stop());
    services.push(service);
  }
  const loadgen = await startSidecarProcess({ controlPlane, dataDir, service: 'loadgen', logDir });
  stoppers.push(async () => void (await loadgen.process.stop()));

  out('');
  // A flag only where meshctl's own default (the server's host, its default ports) would miss.
  const meshctlArgs = ['--config', controlPlane.meshctlConfigPath, ...(controlPlane.address === configured ? [] : ['--server', controlPlane.address])];
  const streamArgs = config.ok && controlPlane.streamAddress === streamServerAddress({ ...config.value, server: controlPlane.address }) ? [] : ['--stream-server', controlPlane.streamAddress];
  const httpArgs = controlPlane.httpAddress === defaultHttpServer(controlPlane.address) ? [] : ['--http-server', controlPlane.httpAddress];
  const meshctl = (args: string[]): string => ['npx meshctl', ...meshctlArgs, ...args].join(' ');
  out(`control plane   ${controlPlane.address}   (meshctl: export MESHCTL_CONFIG=${controlPlane.meshctlConfigPath})`);
  for (const s of services.reverse()) {
    out(`${s.name.padEnd(10)}      app 127.0.0.1:${s.appPort}   sidecar inbound :${s.inboundPort} outbound :${s.outboundPort} admin http://127.0.0.1:${s.adminPort}/ready`);
  }
  out(`loadgen         sidecar outbound :${loadgen.outboundPort} admin http://127.0.0.1:${loadgen.adminPort}/certs`);
  out('');
  out(`try:  curl -x http://127.0.0.1:${loadgen.outboundPort} http://shop.${EXAMPLE_NAMESPACE}/buy?item=teapot`);
  out(`      ${meshctl(['proxy-status'])}`);
  out(`      ${meshctl([...streamArgs, 'stat'])}`);
  out(`      ${meshctl([...httpArgs, 'traces'])}`);
  out(`      open http://${controlPlane.httpAddress}/traces   (recent traces as waterfalls)`);
  out('Ctrl-C stops everything.');
  out(JSON.stringify({ event: 'mesh-ready', controlPlane: controlPlane.address, loadgenProxy: `http://127.0.0.1:${loadgen.outboundPort}`, meshctlArgs, meshctlDefaults: controlPlane.address === configured }));

  const stats = new TrafficStats();
  const proxy = `http://127.0.0.1:${loadgen.outboundPort}`;
  const sendOne = (): void => {
    const started = performance.now();
    callThroughProxy(proxy, `http://shop.${EXAMPLE_NAMESPACE}/buy?item=teapot`, { timeoutMs: 10_000 }).then(
      (res) => stats.record(res.status, performance.now() - started, res.headers['x-mesh-error'] as string | undefined),
      (error: unknown) => stats.record(0, performance.now() - started, (error as Error).message),
    );
  };
  const traffic = setInterval(sendOne, Math.max(1, Math.round(1000 / ratePerSecond)));
  stoppers.push(async () => clearInterval(traffic));
  const tty = process.stdout.isTTY;
  const status = setInterval(() => {
    const line = stats.line();
    if (tty) process.stdout.write(`\r\x1b[2K${line}`);
    else out(line);
  }, Number(process.env['MESH_STATUS_INTERVAL_MS'] ?? (tty ? 1_000 : 5_000)));
  stoppers.push(async () => clearInterval(status));
} catch (error) {
  process.stderr.write(`tsmesh: could not start the mesh: ${(error as Error).message}\n`);
  await stopAll(1);
}
