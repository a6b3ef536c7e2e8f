#!/usr/bin/env node
// A/B of two builds of the M pair: CPU time per request of each sidecar under wrk, rounds alternating.
// CPU per request is steadier than throughput on a shared machine. See bench/README.md ("A/B").
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, stopAll, stopOnExit, parseCli, runMain, httpGet, cpuTimes, memoryDetail, buildWorkspaces } from './lib/procs.mjs';
import { startOpenLoop, openLoopResult } from './lib/openloop-client.mjs';
import { median, min, max, fmt, ms } from './lib/stats.mjs';
import { heapProfileByFunction } from './lib/heap.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');

const USAGE = `node bench/ab.mjs --base REV [options]

Builds git revision REV (e.g. HEAD~1, or a commit) into a temp tree next to this checkout's build, then
for each round starts a control plane and the M pair (client sidecar -> mTLS h2 -> server sidecar ->
nginx) from one build, drives it with wrk (2 s warm-up, then the measured run), and reads each
sidecar's utime and stime from /proc; the two builds alternate, and which goes first alternates too.
Prints µs of CPU per request (user + system) per sidecar, the medians per build, and the change
(with --rate, also the latency percentiles of each run).

Options:
  --base REV        the "before" build: a git revision of this repository                [HEAD]
  --base-dir DIR    use a tree already built at DIR instead of building REV (. for this checkout,
                    e.g. to compare node flags)
  --base-node-args=ARGS, --head-node-args=ARGS
                    extra node flags for the sidecars of one build, e.g. --head-node-args="--max-semi-space-size=1"
  --base-env=K=V,..., --head-env=K=V,...
                    extra environment for the sidecars of one build, e.g. --head-env=MALLOC_ARENA_MAX=2
  --duration S      measured seconds per run (after a 2 s warm-up)                       [10]
  --rounds N        runs per build                                                       [4]
  --connections C   wrk connections (or the fixed-rate client's, with --rate)            [32]
  --rate R          a fixed rate of R req/s (bench/lib/openloop.mjs) instead of wrk's saturation: both
                    builds then do the same work per second, so a faster build does not also batch
                    more requests per loop turn, which lowers its CPU per request beyond its own gain
  --body BYTES      POST a body of BYTES bytes instead of a GET                          [0: GET]
  --alloc           also sample what each sidecar allocates during the measured run (freed objects
                    included) and print kB per request: steadier than CPU time on a shared machine;
                    the sampler costs CPU of its own, so compare CPU figures only between --alloc runs
  --alloc-top N     with --alloc: also list the N functions that allocated most in each build's last run
  --no-build        do not build this checkout first (npm run build)
  --help            this text
`;

const args = parseCli(
  {
    base: { type: 'string', default: 'HEAD' },
    'base-dir': { type: 'string' },
    'base-node-args': { type: 'string', default: '' },
    'head-node-args': { type: 'string', default: '' },
    'base-env': { type: 'string', default: '' },
    'head-env': { type: 'string', default: '' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '0' },
    body: { type: 'string', default: '0' },
    alloc: { type: 'boolean', default: false },
    'alloc-top': { type: 'string', default: '0' },
    'no-build': { type: 'boolean', default: false },
  },
  USAGE,
);
const P = { duration: Number(args.duration), rounds: Number(args.rounds), connections: Number(args.connections), body: Number(args.body), rate: Number(args.rate), alloc: args.alloc, allocTop: Number(args['alloc-top']) };
if (!(P.rate >= 0)) throw new Error(`--rate must be a number of requests per second, not "${args.rate}"`);
if (P.rate > 0 && P.body > 0) throw new Error('--rate drives GETs only; leave out --body');
const MEM_PROBE = new URL('./lib/mem-probe.mjs', import.meta.url).href;
const log = (msg) => process.stderr.write(`[ab ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const cleanup = stopOnExit(log);

// REV's files in a temp dir, with this checkout's node_modules hard-linked in (same lockfile assumed).
function checkoutBase(rev, dir) {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C "${dir}"`], { cwd: REPO_ROOT });
  execFileSync('cp', ['-al', join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules')]);
  return sha;
}

// A wrk script that POSTs `bytes` bytes (nginx answers a POST to its `return 200` location too).
function postScript(dir, bytes) {
  const file = join(dir, 'post.lua');
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
  return file;
}

// One pair from one build, with its own nginx and control plane; all of it stopped and removed after.
async function runOnce(label, root, nodeArgs, env) {
  const { startNginx } = await import('./lib/peers.mjs');
  const { startControlPlane, startMeshPair, binariesOf } = await import('./lib/mesh.mjs');
  const dir = makeTempDir(`ab-${label}`);
  const nginx = await startNginx(dir);
  const cp = await startControlPlane(join(dir, 'mesh-data'), binariesOf(root));
  try {
    const allocFile = (side) => join(dir, `alloc-${side}.heapprofile`);
    const probeArgs = P.alloc ? ['--import', MEM_PROBE] : [];
    const m = await startMeshPair(cp, nginx.port, [...nodeArgs, ...probeArgs], (side) => (P.alloc ? { ...env, MEM_PROBE_ALLOC_SIGNAL_FILE: allocFile(side) } : env));
    // SIGUSR2 starts and stops the probe's sampling (bench/lib/mem-probe.mjs).
    const toggleSampling = () => {
      if (P.alloc) for (const proc of [m.client, m.server]) process.kill(proc.pid, 'SIGUSR2');
    };
    const { status } = await httpGet(m.entryPort, m.hostHeader);
    if (status !== 200) throw new Error(`${label}: a request through the pair answered ${status}`);
    const script = P.body > 0 ? ['-s', postScript(dir, P.body)] : [];
    // The measured run: { requests, rps, errors }.
    const drive = async (seconds) => {
      if (P.rate > 0) {
        const result = await openLoopResult(startOpenLoop(`openloop-${label}`, { port: m.entryPort, hostHeader: m.hostHeader, rate: P.rate, duration: seconds, connections: P.connections }), `${label}: the fixed-rate client`);
        if (!(result.completed > 0)) throw new Error(`${label}: the fixed-rate client completed no request`);
        if (result.achievedRate < 0.95 * P.rate || result.unfinished > 0) log(`${label}: only ${fmt(result.achievedRate)} of ${P.rate} req/s were answered in time: the rate is above what this pair sustains here`);
        return { requests: result.completed, rps: result.achievedRate, errors: result.errors + result.non2xx, latencyUs: result.latencyUs };
      }
      const w = spawnSync('wrk', ['-t1', `-c${P.connections}`, `-d${seconds}s`, ...script, '-H', `Host: ${m.hostHeader}`, `http://127.0.0.1:${m.entryPort}/`], { encoding: 'utf8' });
      const requests = Number(/(\d+) requests in/.exec(w.stdout)?.[1]);
      if (w.status !== 0 || !(requests > 0)) throw new Error(`${label}: wrk failed (${w.status}):\n${w.stdout}${w.stderr}`);
      const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(w.stdout)?.[1] ?? 0) + (/Socket errors: (.*)/.exec(w.stdout) ? 1 : 0);
      return { requests, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(w.stdout)?.[1]), errors, latencyUs: undefined };
    };
    await drive(2);
    toggleSampling();
    const before = { client: cpuTimes(m.client.pid), server: cpuTimes(m.server.pid) };
    const { requests, rps, errors, latencyUs } = await drive(P.duration);
    const after = { client: cpuTimes(m.client.pid), server: cpuTimes(m.server.pid) };
    toggleSampling();
    const us = (side, kind) => ((after[side][kind] - before[side][kind]) / requests) * 1e6;
    const r = {
      client: { user: us('client', 'user'), system: us('client', 'system') },
      server: { user: us('server', 'user'), system: us('server', 'system') },
      rps,
      errors,
      latencyUs,
      // VmHWM in MB (10^6 bytes): the peak over the whole run, start-up included.
      peakMB: { client: memoryDetail(m.client.pid).hwm / 1e6, server: memoryDetail(m.server.pid).hwm / 1e6 },
    };
    for (const side of ['client', 'server']) r[side].total = r[side].user + r[side].system;
    if (P.alloc) {
      for (const side of ['client', 'server']) {
        const profile = heapProfileByFunction(await waitForFile(allocFile(side)), REPO_ROOT, Math.max(1, P.allocTop));
        r[side].allocKB = profile.totalBytes / requests / 1000;
        r[side].allocTop = profile.top.map((t) => ({ ...t, bytesPerRequest: t.bytes / requests }));
      }
    }
    r.pair = r.client.total + r.server.total;
    return r;
  } finally {
    cp.admin.close();
    await stopAll();
  }
}

async function waitForFile(file, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no allocation profile at ${file} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return file;
}

const allocText = (r) => (P.alloc ? `  alloc ${fmt(r.client.allocKB, 1)} / ${fmt(r.server.allocKB, 1)} kB` : '');

const line = (label, r) =>
  `${label.padEnd(5)} ${fmt(r.rps)} req/s  client ${fmt(r.client.total)} µs (user ${fmt(r.client.user)}, sys ${fmt(r.client.system)})  server ${fmt(r.server.total)} µs (user ${fmt(r.server.user)}, sys ${fmt(r.server.system)})  pair ${fmt(r.pair)} µs  peak ${fmt(r.peakMB.client, 1)} / ${fmt(r.peakMB.server, 1)} MB${allocText(r)}${r.latencyUs ? `  p50 ${ms(r.latencyUs.p50)} p99 ${ms(r.latencyUs.p99)} p99.9 ${ms(r.latencyUs.p999)} ms` : ''}${r.errors ? `  ${r.errors} errors` : ''}`;

async function main() {
  let baseRoot = args['base-dir'] ? resolve(args['base-dir']) : undefined;
  let baseLabel = baseRoot ?? args.base;
  if (!baseRoot) {
    // Not a makeTempDir: those are removed after every run, and this tree serves all of them.
    baseRoot = mkdtempSync(join(tmpdir(), 'tsmesh-bench-ab-base-'));
    process.on('exit', () => rmSync(baseRoot, { recursive: true, force: true }));
    const sha = checkoutBase(args.base, baseRoot);
    baseLabel = `${args.base} (${sha.slice(0, 7)})`;
    log(`building ${baseLabel} in ${baseRoot}`);
    buildWorkspaces(baseRoot);
  }
  if (!existsSync(join(baseRoot, 'sidecar', 'dist'))) throw new Error(`${baseRoot} has no sidecar/dist: build it first`);
  if (!args['no-build']) {
    log('building this checkout (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  const flags = (name) => args[name].split(' ').filter(Boolean);
  const envOf = (name) => Object.fromEntries(args[name].split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const builds = {
    base: { root: baseRoot, nodeArgs: flags('base-node-args'), env: envOf('base-env'), runs: [] },
    head: { root: REPO_ROOT, nodeArgs: flags('head-node-args'), env: envOf('head-env'), runs: [] },
  };
  for (let round = 0; round < P.rounds; round += 1) {
    const order = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const label of order) {
      const r = await runOnce(label, builds[label].root, builds[label].nodeArgs, builds[label].env);
      builds[label].runs.push(r);
      log(line(label, r));
    }
  }
  const summary = (runs, pick) => {
    const xs = runs.map(pick);
    return { median: median(xs), min: min(xs), max: max(xs) };
  };
  const load = P.body > 0 ? `POST of ${P.body} bytes` : 'GET';
  const driver = P.rate > 0 ? `a fixed ${fmt(P.rate)} req/s over ${P.connections} connections` : `wrk -t1 -c${P.connections}`;
  process.stdout.write(`\nA/B under ${driver} (${load}), ${P.rounds} x ${P.duration} s per build; µs of CPU per request (user + system), median (min-max)\n`);
  const withFlags = (b) => `${b.nodeArgs.length > 0 ? `, node ${b.nodeArgs.join(' ')}` : ''}${Object.keys(b.env).length > 0 ? `, env ${Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
  process.stdout.write(`base: ${baseLabel}${withFlags(builds.base)}\nhead: this checkout${withFlags(builds.head)}\n\n`);
  const allocHeader = P.alloc ? ' kB allocated per request client / server |' : '';
  process.stdout.write(`| build | req/s | client sidecar | server sidecar | pair | peak RSS MB client / server |${allocHeader}\n| --- | --- | --- | --- | --- | --- |${P.alloc ? ' --- |' : ''}\n`);
  const medians = {};
  for (const [label, b] of Object.entries(builds)) {
    const cell = (pick, digits = 0) => {
      const s = summary(b.runs, pick);
      return `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})`;
    };
    medians[label] = summary(b.runs, (r) => r.pair).median;
    const allocCell = P.alloc ? ` ${cell((r) => r.client.allocKB, 1)} / ${cell((r) => r.server.allocKB, 1)} |` : '';
    process.stdout.write(`| ${label} | ${cell((r) => r.rps)} | ${cell((r) => r.client.total)} | ${cell((r) => r.server.total)} | ${cell((r) => r.pair)} | ${fmt(summary(b.runs, (r) => r.peakMB.client).median, 1)} / ${fmt(summary(b.runs, (r) => r.peakMB.server).median, 1)} |${allocCell}\n`);
  }
  const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
  const change = (medians.head / medians.base - 1) * 100;
  // Each round ran both builds back to back: their ratio cancels the drift between rounds.
  const paired = builds.head.runs.map((h, i) => (h.pair / (builds.base.runs[i]?.pair ?? NaN) - 1) * 100);
  process.stdout.write(`\npair CPU per request: head ${signed(change)} vs base (medians); paired by round: ${signed(median(paired))} (${paired.map(signed).join(', ')})\n`);
  if (P.rate > 0) {
    process.stdout.write(`\nlatency at ${fmt(P.rate)} req/s (open loop, from when each request was due), median of runs (min-max), ms:\n`);
    for (const [label, b] of Object.entries(builds)) {
      const cell = (key) => {
        const s = summary(b.runs, (r) => r.latencyUs[key]);
        return `${ms(s.median)} (${ms(s.min)}-${ms(s.max)})`;
      };
      process.stdout.write(`${label}: p50 ${cell('p50')}, p99 ${cell('p99')}, p99.9 ${cell('p999')}\n`);
    }
  }
  if (P.alloc && P.allocTop > 0) {
    for (const [label, b] of Object.entries(builds)) {
      const last = b.runs[b.runs.length - 1];
      for (const side of ['client', 'server']) {
        process.stdout.write(`\n${label}, ${side} sidecar: the ${P.allocTop} largest allocators in its last run (bytes per request)\n\n| bytes | % | function |\n| --- | --- | --- |\n`);
        for (const t of last[side].allocTop) process.stdout.write(`| ${fmt(t.bytesPerRequest)} | ${fmt(t.percent, 1)} | \`${t.function}\` |\n`);
      }
    }
  }
}

runMain(main, cleanup, log);
