// mesh-sidecar: parse flags, start the sidecar, print where it listens, stop cleanly on a signal.
import { createLogger } from '@tsmesh/proto';
import { parseSidecarConfig, SIDECAR_USAGE } from '../config.js';
import { startSidecar } from '../sidecar.js';

// In-flight inbound requests get this long after SIGTERM (Kubernetes' default grace is 30 s).
const DRAIN_GRACE_MS = Number(process.env['MESH_DRAIN_GRACE_MS'] ?? '10000');

const [command, ...rest] = process.argv.slice(2);
if (command === 'iptables') {
  // An init step, not the proxy: install or remove the interception rules in this network namespace, then exit.
  const { runIptablesCommand } = await import('../intercept/apply.js');
  const code = await runIptablesCommand(rest, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) });
  process.exit(code);
}
if (!command || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
  process.stdout.write(SIDECAR_USAGE);
  process.exit(command ? 0 : 2);
}
if (command !== 'run') {
  process.stderr.write(`mesh-sidecar: unknown command "${command}"; try mesh-sidecar run --help\n`);
  process.exit(2);
}
const config = parseSidecarConfig(rest, process.env);
if (!config.ok) {
  process.stderr.write(`mesh-sidecar: ${config.error}\n`);
  process.exit(2);
}
const logger = createLogger(`sidecar.${config.value.service}`);
try {
  const sidecar = await startSidecar(config.value, logger);
  // One machine-readable line so that launchers and tests learn the ephemeral ports.
  process.stdout.write(`${JSON.stringify({ event: 'listening', service: config.value.service, spiffeId: config.value.spiffeId, inboundPort: sidecar.inboundPort, outboundPort: sidecar.outboundPort, adminPort: sidecar.adminPort })}\n`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // SIGTERM drains (Kubernetes sends it when the pod stops); SIGINT (Ctrl-C) stops at once.
    const graceMs = signal === 'SIGTERM' ? DRAIN_GRACE_MS : 0;
    logger.info('stopping', { signal, graceMs });
    const force = setTimeout(() => process.exit(1), graceMs + 5_000);
    force.unref();
    void (graceMs > 0 ? sidecar.drain(graceMs) : sidecar.stop()).then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (error) {
  process.stderr.write(`mesh-sidecar: ${(error as Error).message}\n`);
  process.exit(1);
}
