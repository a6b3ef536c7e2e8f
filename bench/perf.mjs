#!/usr/bin/env node
// Where each proxy's CPU goes under load, kernel included: perf record of the R and M pairs (and H), per request, with folded stacks for flame graphs.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { makeTempDir, stopOnExit, parseCli, runMain, sleep, buildWorkspaces, cpuSeconds } from './lib/procs.mjs';
import { fmt } from './lib/stats.mjs';
import { analyse, foldStacks, parseSamples, RUNNING_BUCKETS } from './lib/perf-stacks.mjs';
import { forEachPair, PAIR_NAMES, parsePairList } from './lib/pairs.mjs';

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

const USAGE = `node bench/perf.mjs [options]          (as root: perf samples other processes and the kernel)

Starts nginx and, one after another, the chosen pairs in front of it (as npm run bench does), drives each
with wrk -t1 -c32 and samples both proxies with perf record -g over a window in the middle of the run.
Node processes run with --perf-basic-prof, so JavaScript frames have names. Reports, per proxy and
per request: system calls (kernel included), GC, TLS, allocator, and the rest split into the proxy's
own JavaScript, Node's, its dependencies' and native code; then the top files and functions. Unlike
npm run bench -- --profile (V8's --cpu-prof, which counts wall time on the JavaScript thread), this is
CPU time. The sidecars run tsc's output, one file per module (MESH_SIDECAR_UNBUNDLED=1), so that
their time is told apart by file; the bundle they ship as runs the same code (bench/ab.mjs: the same
CPU per request, see bench/README.md). Writes bench/results/perf-<time>.md and .json, and the folded stacks of each proxy
(flamegraph.pl, inferno-flamegraph or https://speedscope.app read them) to bench/results/perf-<time>/.

Options:
  --scenarios LIST   which pairs, of H, R, M                               [R,M]
  --warmup S         seconds of wrk per pair before that run, unsampled: V8 is still
                     optimizing the proxy's code for several seconds after it starts  [10]
  --duration S       seconds of wrk per pair (sampled: the middle --record)   [10]
  --record S         seconds sampled                                       [5]
  --frequency HZ     samples per second                                    [1999]
  --connections C    wrk connections                                       [32]
  --top N            functions and files listed per proxy                  [20]
  --no-build         do not build first (npm run build)
  --help             this text
`;

const args = parseCli(
  {
    scenarios: { type: 'string', default: 'R,M' },
    warmup: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    record: { type: 'string', default: '5' },
    frequency: { type: 'string', default: '1999' },
    connections: { type: 'string', default: '32' },
    top: { type: 'string', default: '20' },
    'no-build': { type: 'boolean', default: false },
  },
  USAGE,
);

const log = (msg) => process.stderr.write(`[perf ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const cleanup = stopOnExit(log);
const PERF_BASIC_PROF = '--perf-basic-prof';

function record(pid, seconds, frequency, file) {
  const perf = spawn('perf', ['record', '-F', String(frequency), '-g', '-o', file, '-p', String(pid), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  perf.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    perf.on('error', reject);
    perf.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`perf record exited ${code}: ${err.trim().slice(0, 500)}`))));
  });
}

// The whole machine's CPU time by state, from /proc/stat's first line (ticks: user nice system idle iowait irq softirq steal).
function machineTicks() {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
}

// Shares of the machine's CPU time between two machineTicks() readings, in percent.
function machineShares(before, after) {
  const d = after.map((v, i) => v - before[i]);
  const total = d.reduce((a, b) => a + b, 0) || 1;
  const pct = (v) => (100 * v) / total;
  return { user: pct(d[0] + d[1]), system: pct(d[2]), idle: pct(d[3] + d[4]), softirq: pct(d[5] + d[6]), steal: pct(d[7]) };
}

function stacksOf(file) {
  const out = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (out.status !== 0) throw new Error(`perf script failed on ${file}: ${out.stderr.trim().slice(0, 500)}`);
  return parseSamples(out.stdout);
}

function wrkRun(pair, host, opts, seconds) {
  return spawn('wrk', ['-t1', `-c${opts.connections}`, `-d${seconds}s`, ...(host ? ['-H', `Host: ${host}`] : []), `http://127.0.0.1:${pair.entryPort}/`], { stdio: ['ignore', 'pipe', 'ignore'] });
}

async function measure(name, pair, host, opts, workDir) {
  if (opts.warmup > 0) {
    const warm = wrkRun(pair, host, opts, opts.warmup);
    warm.stdout.resume();
    await new Promise((resolve) => warm.on('exit', resolve));
  }
  const wrk = wrkRun(pair, host, opts, opts.duration);
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  const finished = new Promise((resolve) => wrk.on('exit', resolve));
  await sleep(((opts.duration - opts.record) / 2) * 1000);
  const files = { client: join(workDir, `${name[0]}-client.data`), server: join(workDir, `${name[0]}-server.data`) };
  const ticks = machineTicks();
  const cpu = { client: cpuSeconds(pair.client.pid), server: cpuSeconds(pair.server.pid) };
  const started = performance.now();
  await Promise.all(['client', 'server'].map((side) => record(pair[side].pid, opts.record, opts.frequency, files[side])));
  const seconds = (performance.now() - started) / 1000;
  // Whether the pair was short of CPU: how busy the machine and each proxy were while sampled.
  const busy = { machine: machineShares(ticks, machineTicks()), client: (100 * (cpuSeconds(pair.client.pid) - cpu.client)) / seconds, server: (100 * (cpuSeconds(pair.server.pid) - cpu.server)) / seconds };
  await finished;
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!(rate > 0)) throw new Error(`wrk gave no rate for ${name}:\n${out}`);
  // Read while the processes' /tmp/perf-<pid>.map files are still there.
  const sides = {};
  for (const side of ['client', 'server']) {
    const samples = stacksOf(files[side]);
    sides[side] = { pid: pair[side].pid, analysis: analyse(samples, REPO_ROOT), folded: foldStacks(samples, REPO_ROOT) };
  }
  return { name, rate, busy, sides };
}

function removePerfMaps(pids) {
  for (const pid of pids) rmSync(`/tmp/perf-${pid}.map`, { force: true });
}

function report(results, opts, stamp) {
  const us = (count, rate) => (count / opts.frequency / (rate * opts.record)) * 1e6;
  const L = [`# Where the proxies' CPU goes — ${stamp}`, ''];
  L.push(`perf record -g at ${opts.frequency} Hz over ${opts.record} s in the middle of a ${opts.duration} s wrk -t1 -c${opts.connections} run (after ${opts.warmup} s of wrk unsampled); µs of CPU per request = samples / frequency / requests in the window (wrk's average rate). perf's own cost is included and lowers the rates a little. Each sample counts once, in the first bucket its stack meets from the top.`, '');
  const rows = [...new Set(results.flatMap((r) => Object.values(r.sides).flatMap((s) => s.analysis.buckets.map(([b]) => b))))];
  const order = (b) => (RUNNING_BUCKETS.includes(b) ? 100 + RUNNING_BUCKETS.indexOf(b) : 0);
  rows.sort((a, b) => order(a) - order(b));
  const cols = results.flatMap((r) => ['client', 'server'].map((side) => ({ r, side })));
  L.push(`| µs per request | ${cols.map(({ r, side }) => `${r.name[0]} ${side}`).join(' | ')} |`, `| --- | ${cols.map(() => '---:').join(' | ')} |`);
  L.push(`| req/s while sampled | ${cols.map(({ r }) => fmt(r.rate)).join(' | ')} |`);
  L.push(`| this proxy's CPU, % of one core | ${cols.map(({ r, side }) => fmt(r.busy[side])).join(' | ')} |`);
  L.push(`| machine idle, % (all cores) | ${cols.map(({ r }) => fmt(r.busy.machine.idle, 1)).join(' | ')} |`);
  L.push(`| **all** | ${cols.map(({ r, side }) => `**${fmt(us(r.sides[side].analysis.samples, r.rate), 1)}**`).join(' | ')} |`);
  for (const row of rows) {
    L.push(`| ${row} | ${cols.map(({ r, side }) => fmt(us(new Map(r.sides[side].analysis.buckets).get(row) ?? 0, r.rate), 1)).join(' | ')} |`);
  }
  L.push('');
  for (const r of results) {
    for (const side of ['client', 'server']) {
      const a = r.sides[side].analysis;
      if (a.selfFiles.length === 0) continue;
      L.push(`## ${r.name}, ${side}: running code by file and by function (µs per request)`, '');
      L.push('| file | µs |', '| --- | ---: |');
      for (const [file, n] of a.selfFiles.slice(0, opts.top)) L.push(`| \`${file}\` | ${fmt(us(n, r.rate), 2)} |`);
      L.push('', '| function (self: the topmost JavaScript frame, engine builtins it called included) | µs |', '| --- | ---: |');
      for (const [fn, n] of a.selfFunctions.slice(0, opts.top)) L.push(`| \`${fn}\` | ${fmt(us(n, r.rate), 2)} |`);
      L.push('', '| function (inclusive: on the stack, everything it called included) | µs |', '| --- | ---: |');
      for (const [fn, n] of a.inclusive.slice(0, opts.top)) L.push(`| \`${fn}\` | ${fmt(us(n, r.rate), 2)} |`);
      L.push('');
    }
  }
  return `${L.join('\n')}\n`;
}

async function main() {
  const which = parsePairList(args.scenarios);
  const opts = { warmup: Number(args.warmup), duration: Number(args.duration), record: Number(args.record), frequency: Number(args.frequency), connections: Number(args.connections), top: Number(args.top) };
  if (!(opts.record > 0) || !(opts.duration >= opts.record + 2)) throw new Error(`--duration (${args.duration}) must be at least --record (${args.record}) + 2 seconds: the sampled window sits in the middle of the run`);
  if (!(opts.warmup >= 0)) throw new Error(`--warmup (${args.warmup}) must be 0 or more seconds`);
  if (!(opts.frequency > 0 && opts.frequency <= 20_000)) throw new Error(`--frequency ${args.frequency}: give samples per second between 1 and 20000`);
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed: apt-get install -y linux-perf');
  const probe = spawnSync('perf', ['record', '-o', '/dev/null', '-g', '--', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`perf cannot sample here (run as root, or lower kernel.perf_event_paranoid): ${probe.stderr.trim().slice(0, 300)}`);
  if (!args['no-build'] && which.includes('M')) {
    log('building (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  // The shipped bundle is one file: its functions could not be grouped by file or package.
  process.env.MESH_SIDECAR_UNBUNDLED = '1';
  const workDir = makeTempDir('perf-data');
  const nodePids = [];
  let results;
  try {
    results = await forEachPair(which, 'perf', [PERF_BASIC_PROF], (name, pair, host) => {
      log(`scenario ${name}`);
      if (name !== PAIR_NAMES.H) nodePids.push(pair.client.pid, pair.server.pid);
      return measure(name, pair, host, opts, workDir);
    });
  } finally {
    removePerfMaps(nodePids);
  }
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const outDir = join(REPO_ROOT, 'bench', 'results');
  const foldedDir = join(outDir, `perf-${stamp}`);
  mkdirSync(foldedDir, { recursive: true });
  for (const r of results) for (const side of ['client', 'server']) writeFileSync(join(foldedDir, `${r.name[0]}-${side}.folded`), r.sides[side].folded);
  const markdown = report(results, opts, stamp);
  writeFileSync(join(outDir, `perf-${stamp}.md`), markdown);
  const json = results.map((r) => ({ name: r.name, rate: r.rate, busy: r.busy, sides: Object.fromEntries(Object.entries(r.sides).map(([side, s]) => [side, { samples: s.analysis.samples, buckets: s.analysis.buckets, selfFiles: s.analysis.selfFiles.slice(0, 100), selfFunctions: s.analysis.selfFunctions.slice(0, 200), inclusive: s.analysis.inclusive.slice(0, 200) }])) }));
  writeFileSync(join(outDir, `perf-${stamp}.json`), `${JSON.stringify({ options: opts, results: json }, null, 1)}\n`);
  process.stdout.write(markdown);
  log(`wrote bench/results/perf-${stamp}.md, .json and the folded stacks in bench/results/perf-${stamp}/ (${readdirSync(foldedDir).length} files)`);
}

runMain(main, cleanup, log);
