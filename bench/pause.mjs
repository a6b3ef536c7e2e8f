#!/usr/bin/env node
// A sidecar of the M pair paused (SIGSTOP) under a steady open-loop load, as a long GC, a CPU-throttled
// container or a hypervisor hiccup pauses it: what callers see after it resumes (decision 0019).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, stopAll, stopOnExit, parseCli, runMain, httpGet, sleep, buildWorkspaces } from './lib/procs.mjs';
import { startOpenLoop, openLoopResult } from './lib/openloop-client.mjs';
import { fmt, ms } from './lib/stats.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');

const USAGE = `node bench/pause.mjs [options]

Starts nginx, a control plane and the M pair, drives it at a fixed rate with bench/lib/openloop.mjs,
pauses one sidecar with SIGSTOP for a while in the middle, resumes it (SIGCONT), and reports every
non-2xx answer by status and x-mesh-error, and the sidecars' log lines about shedding and circuits.
Exits 1 when any request was refused or failed.

Options:
  --target client|server   which sidecar to pause                           [server]
  --pause MS               how long it stays stopped                        [2000]
  --rate R                 requests per second (fixed, open loop)           [500]
  --duration S             seconds of load; the pause starts at 40 % of it  [20]
  --connections C          keep-alive connections of the load client        [16]
  --no-build               do not build first (npm run build)
  --help                   this text
`;

const args = parseCli(
  {
    target: { type: 'string', default: 'server' },
    pause: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '16' },
    'no-build': { type: 'boolean', default: false },
  },
  USAGE,
);

const log = (msg) => process.stderr.write(`[pause ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const cleanup = stopOnExit(log);

async function main() {
  const target = args.target;
  if (target !== 'client' && target !== 'server') throw new Error(`--target must be client or server, not "${target}"`);
  const pauseMs = Number(args.pause);
  const duration = Number(args.duration);
  if (!(pauseMs > 0) || !(duration > 0)) throw new Error('--pause and --duration must be positive numbers');
  if (!args['no-build']) {
    log('building (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  const { startNginx } = await import('./lib/peers.mjs');
  const { startControlPlane, startMeshPair } = await import('./lib/mesh.mjs');
  const dir = makeTempDir('pause');
  const nginx = await startNginx(dir);
  const cp = await startControlPlane(join(dir, 'mesh-data'));
  const m = await startMeshPair(cp, nginx.port, [], () => ({}));
  const { status } = await httpGet(m.entryPort, m.hostHeader);
  if (status !== 200) throw new Error(`a request through the pair answered ${status}`);
  log(`load: ${args.rate} req/s for ${duration} s; the ${target} sidecar stops for ${pauseMs} ms at ${Math.round(duration * 0.4)} s`);
  const load = startOpenLoop('openloop-pause', { port: m.entryPort, hostHeader: m.hostHeader, rate: args.rate, duration, connections: args.connections });
  await sleep(duration * 400);
  const paused = m[target];
  process.kill(paused.pid, 'SIGSTOP');
  try {
    await sleep(pauseMs);
  } finally {
    process.kill(paused.pid, 'SIGCONT');
  }
  log('resumed');
  const r = await openLoopResult(load, 'the load client');
  const refusals = Object.entries(r.non2xxByStatus).map(([key, n]) => `${fmt(n)} x ${key}`).join(', ') || 'none';
  process.stdout.write(`${target} sidecar stopped for ${pauseMs} ms under ${args.rate} req/s: ${fmt(r.completed)} requests, ${fmt(r.non2xx)} non-2xx (${refusals}), ${r.errors} errors; p99 ${ms(r.latencyUs.p99)} ms, max ${ms(r.latencyUs.max)} ms\n`);
  for (const [role, proc] of [['client', m.client], ['server', m.server]]) {
    const lines = proc.output().split('\n').filter((l) => /load shedding|circuit (opened|closed)/.test(l));
    if (lines.length > 0) process.stdout.write(`${role} sidecar:\n${lines.join('\n')}\n`);
  }
  cp.admin.close();
  await stopAll();
  if (r.non2xx > 0 || r.errors > 0) process.exitCode = 1;
}

runMain(main, cleanup, log);
