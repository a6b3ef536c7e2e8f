#!/usr/bin/env node
// Memory soak of the M pair: idle, then a steady open-loop load well below saturation, then idle again,
// sampling RSS and V8 heap of both sidecars throughout; verdict against issue 7's memory targets.
// Writes bench/results/soak-<timestamp>.{md,json} and soak-latest.md. See bench/README.md ("Memory").
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, stopAll, stopOnExit, parseCli, runMain, httpGet, cpuSeconds, memoryDetail, sleep, buildWorkspaces } from './lib/procs.mjs';
import { startOpenLoop, openLoopResult } from './lib/openloop-client.mjs';
import { fmt, ms } from './lib/stats.mjs';
import { slopePerMinute, floors, verdicts, soakMarkdown } from './lib/soak-report.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');

const USAGE = `npm run bench:soak -- [options]        (or: node bench/soak.mjs [options])

Starts nginx, a control plane and the M pair (client-only sidecar -> mTLS h2 -> backend sidecar -> nginx),
leaves it idle, drives it at a fixed rate with bench/lib/openloop.mjs, leaves it idle again, and samples
VmRSS (anonymous / file-backed) and the V8 heap of both sidecars every few seconds.

Options:
  --duration S      seconds of load                                      [600]
  --rate R          requests per second (fixed, open loop)               [500]
  --connections C   keep-alive connections of the load client            [16]
  --idle S          seconds idle before and after the load               [60]
  --every S         seconds between samples                              [2]
  --node-args=ARGS  extra node flags for both sidecars, e.g. --node-args="--max-semi-space-size=2"
  --node-defaults   Node's default heap sizing instead of the injected sidecar's NODE_OPTIONS
  --alloc-profile   also sample what each sidecar allocates (freed objects included) for up to 30 s of the load
  --label TEXT      a name for this run in the report
  --no-build        do not build first (npm run build)
  --out DIR         where results go                                     [bench/results]
  --help            this text
`;

const args = parseCli(
  {
    duration: { type: 'string', default: '600' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '16' },
    idle: { type: 'string', default: '60' },
    every: { type: 'string', default: '2' },
    'node-args': { type: 'string', default: '' },
    'node-defaults': { type: 'boolean', default: false },
    label: { type: 'string', default: '' },
    'alloc-profile': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: join(BENCH_DIR, 'results') },
  },
  USAGE,
);
const P = { duration: Number(args.duration), rate: Number(args.rate), connections: Number(args.connections), idle: Number(args.idle), every: Number(args.every), nodeArgs: args['node-args'].split(' ').filter(Boolean), label: args.label, allocProfile: args['alloc-profile'] };

const log = (msg) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const cleanup = stopOnExit(log);

function readProbe(file) {
  try {
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  const started = new Date();
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
  mkdirSync(args.out, { recursive: true });
  if (!args['no-build']) {
    log('building (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  const { startNginx } = await import('./lib/peers.mjs');
  const { startControlPlane, startMeshPair, SHIPPED_NODE_OPTIONS } = await import('./lib/mesh.mjs');
  P.nodeOptions = args['node-defaults'] ? '' : SHIPPED_NODE_OPTIONS;
  const dir = makeTempDir('soak');
  const probeFile = (role) => join(dir, `probe-${role}.json`);
  // The probe is preloaded with --import: heap figures without a change to the sidecar.
  const nodeArgs = [...P.nodeArgs, '--expose-gc', '--import', new URL('./lib/mem-probe.mjs', import.meta.url).href];
  const gcFile = (role) => join(dir, `gc-${role}.jsonl`);
  const allocFile = (role) => join(dir, `alloc-${role}.heapprofile`);
  // The window starts a quarter into the load (start-up and warm-up are not what a request costs).
  const alloc = (role) => (args['alloc-profile'] ? { MEM_PROBE_ALLOC_FILE: allocFile(role), MEM_PROBE_ALLOC_DELAY_MS: String((P.idle + P.duration / 4 + 5) * 1000), MEM_PROBE_ALLOC_DURATION_MS: String(Math.min(30, P.duration / 2) * 1000) } : {});
  const envFor = (role) => ({ NODE_OPTIONS: P.nodeOptions, MEM_PROBE_FILE: probeFile(role), MEM_PROBE_INTERVAL_MS: String(Math.min(1000, P.every * 500)), MEM_PROBE_GC_FILE: gcFile(role), ...alloc(role) });
  const nginx = await startNginx(dir);
  const cp = await startControlPlane(join(dir, 'mesh-data'));
  const m = await startMeshPair(cp, nginx.port, nodeArgs, envFor);
  const { status } = await httpGet(m.entryPort, m.hostHeader);
  if (status !== 200) throw new Error(`a request through the pair answered ${status}`);
  const roles = { client: m.client, server: m.server };
  const t0 = Date.now();
  const samples = [];
  let phase = 'idle-before';
  const sample = () => {
    const s = { t: (Date.now() - t0) / 1000, phase };
    for (const [role, proc] of Object.entries(roles)) {
      const v8 = readProbe(probeFile(role));
      s[role] = { ...memoryDetail(proc.pid), cpu: cpuSeconds(proc.pid), heapUsed: v8?.heapUsed ?? NaN, heapTotal: v8?.heapTotal ?? NaN, external: v8?.external ?? NaN };
    }
    samples.push(s);
  };
  // A full GC forced in both sidecars; what the heap keeps after it is what a leak would grow.
  const checkpoints = [];
  const checkpoint = async (name) => {
    const c = { name, t: (Date.now() - t0) / 1000 };
    await Promise.all(
      Object.entries(roles).map(async ([role, proc]) => {
        const lines = () => (existsSync(gcFile(role)) ? readFileSync(gcFile(role), 'utf8').split('\n').filter(Boolean) : []);
        const before = lines().length;
        process.kill(proc.pid, 'SIGUSR2');
        for (let waited = 0; lines().length === before; waited += 50) {
          if (waited > 10_000) throw new Error(`the ${role} sidecar did not answer a forced GC within 10 s`);
          await sleep(50);
        }
        c[role] = JSON.parse(lines().at(-1));
      }),
    );
    checkpoints.push(c);
    log(`checkpoint ${name}: heap after a full GC client ${(c.client.heapUsed / 1e6).toFixed(1)} MB, server ${(c.server.heapUsed / 1e6).toFixed(1)} MB`);
  };
  const timer = setInterval(sample, P.every * 1000);
  sample();
  log(`pair up (NODE_OPTIONS: ${P.nodeOptions || 'none'}; node args: ${P.nodeArgs.join(' ') || 'none'}); idle ${P.idle} s`);
  await sleep(P.idle * 1000);
  phase = 'load';
  log(`load: ${P.rate} req/s over ${P.connections} connections for ${P.duration} s`);
  const loadStart = samples.length;
  const load = startOpenLoop('openloop-soak', { port: m.entryPort, hostHeader: m.hostHeader, rate: P.rate, duration: P.duration, connections: P.connections });
  // After the warm-up, and in the load's first half so the second half's trends run undisturbed.
  const warm = Math.min(60, P.duration / 10);
  const warmCheckpoint = sleep(warm * 1000).then(() => checkpoint('after warm-up'));
  const progress = setInterval(() => {
    const last = samples.at(-1);
    log(`t=${Math.round(last.t)} s  RSS client ${(last.client.rss / 1e6).toFixed(1)} MB, server ${(last.server.rss / 1e6).toFixed(1)} MB`);
  }, 60_000);
  await load.exited;
  clearInterval(progress);
  sample();
  await warmCheckpoint;
  await checkpoint('end of load');
  const loadEnd = samples.length;
  const client = await openLoopResult(load, 'the load client');
  phase = 'idle-after';
  log(`load done (${fmt(client.completed)} requests, p99 ${ms(client.latencyUs.p99)} ms); idle ${P.idle} s`);
  await sleep(P.idle * 1000);
  clearInterval(timer);
  sample();
  await checkpoint('end of idle');
  const results = analyse(samples, loadStart, loadEnd, client, checkpoints);
  // A refusal or an error is explained in the sidecars' own log lines: keep their last ones with the run.
  if (client.non2xx > 0 || client.errors > 0) {
    results.sidecarLogTails = Object.fromEntries(Object.entries(roles).map(([role, proc]) => [role, proc.output()]));
    for (const [role, tail] of Object.entries(results.sidecarLogTails)) log(`${role} sidecar's last log lines:\n${tail}`);
  }
  results.startedAt = started.toISOString();
  results.machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', kernel: release(), node: process.version };
  results.params = P;
  results.samples = samples;
  if (args['alloc-profile']) {
    const { heapProfileByFunction, heapProfileByPackage } = await import('./lib/heap.mjs');
    results.allocations = {};
    for (const role of Object.keys(roles)) {
      if (!existsSync(allocFile(role))) continue;
      const byFunction = heapProfileByFunction(allocFile(role), REPO_ROOT, 20);
      results.allocations[role] = { perRequestBytes: byFunction.totalBytes / (Math.min(30, P.duration / 2) * P.rate), byFunction, byPackage: heapProfileByPackage(allocFile(role), REPO_ROOT, 12) };
    }
  }
  cp.admin.close();
  await stopAll();
  const md = soakMarkdown(results);
  const base = join(args.out, `soak-${stamp}`);
  // Compact: hundreds of samples, indented, would double the file.
  writeFileSync(`${base}.json`, `${JSON.stringify(results)}\n`);
  writeFileSync(`${base}.md`, md);
  copyFileSync(`${base}.md`, join(args.out, 'soak-latest.md'));
  process.stdout.write(md);
  log(`wrote ${base}.md, ${base}.json and ${join(args.out, 'soak-latest.md')}`);
}

function analyse(samples, loadStart, loadEnd, client, checkpoints) {
  const during = samples.slice(loadStart, loadEnd);
  const secondHalf = during.slice(Math.floor(during.length / 2));
  const idleBefore = samples.slice(0, loadStart);
  // 30 s windows, fewer seconds on a short run so that the slope still has six points.
  const window = Math.min(30, (secondHalf.at(-1).t - secondHalf[0].t) / 6);
  const idleAfter = samples.slice(loadEnd);
  const per = {};
  for (const role of ['client', 'server']) {
    const at = (s, key) => s[role][key];
    const cpuLoad = at(during.at(-1), 'cpu') - at(during[0], 'cpu');
    per[role] = {
      idleFreshRss: at(idleBefore[0], 'rss'),
      idleSettledRss: at(idleBefore.at(-1), 'rss'),
      idleSettledAnon: at(idleBefore.at(-1), 'anon'),
      idleSettledFile: at(idleBefore.at(-1), 'file'),
      idleSettledHeapUsed: at(idleBefore.at(-1), 'heapUsed'),
      peakRssUnderLoad: Math.max(...during.map((s) => at(s, 'rss'))),
      hwmAtEnd: at(samples.at(-1), 'hwm'),
      endOfLoadRss: at(during.at(-1), 'rss'),
      idleAfterRss: at(idleAfter.at(-1) ?? during.at(-1), 'rss'),
      // MB per minute over the second half of the load: RSS, and the heap's floor (its lowest point in
      // each window, i.e. what survives GC) so the sawtooth of young garbage does not hide or fake a trend.
      rssSlopeMBPerMin: slopePerMinute(secondHalf.map((s) => [s.t, at(s, 'rss') / 1e6])),
      heapFloorSlopeMBPerMin: slopePerMinute(floors(secondHalf.map((s) => [s.t, at(s, 'heapUsed') / 1e6]), window)),
      cpuSecondsPer1k: cpuLoad / (client.completed / 1000),
      ...retained(checkpoints, role),
    };
  }
  const result = { client, sidecars: per, checkpoints };
  result.verdicts = verdicts(per);
  return result;
}

// The heap after a forced full GC, from the warm-up checkpoint to the end of the load: per minute and
// per request at the run's fixed rate.
function retained(checkpoints, role) {
  const from = checkpoints.find((c) => c.name === 'after warm-up')?.[role];
  const to = checkpoints.find((c) => c.name === 'end of load')?.[role];
  if (!from || !to) return { retainedHeapMBPerMin: NaN, retainedBytesPerRequest: NaN };
  const seconds = (to.at - from.at) / 1000;
  const grown = to.heapUsed - from.heapUsed;
  return { retainedHeapFrom: from.heapUsed, retainedHeapTo: to.heapUsed, retainedHeapMBPerMin: grown / 1e6 / (seconds / 60), retainedBytesPerRequest: grown / (seconds * P.rate) };
}

runMain(main, cleanup, log);
