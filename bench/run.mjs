#!/usr/bin/env node
// tsmesh benchmark harness: the same backend and the same clients through D (direct), H (HAProxy pair),
// N (http-proxy pair), M (two tsmesh sidecars) and two bare-Node floors (F, R), plus the control plane's config->ACK time and the
// CA's signing rate. Writes bench/results/<timestamp>.{md,json} and bench/results/latest.md.
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, makeTempDir, stopAll, stopOnExit, parseCli, httpGet, cpuSeconds, memory, memoryDetail, connectionsTo, sleep, buildWorkspaces } from './lib/procs.mjs';
import { startOpenLoop, openLoopResult } from './lib/openloop-client.mjs';
import { spread, median, max, fmt, ms } from './lib/stats.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');

const USAGE = `npm run bench -- [options]        (or: node bench/run.mjs [options])

Builds the workspaces (npm run build), installs haproxy, nginx and wrk from Debian when missing and running
as root, runs the scenarios on 127.0.0.1 and writes bench/results/<timestamp>.{md,json} and
bench/results/latest.md.

Scenarios (all by default):   --scenarios D,H,N,F,R,M,CP,CA
  D   client -> nginx
  H   client -> HAProxy -> mTLS (TLS 1.3, RSA-2048, h2) -> HAProxy -> nginx
  N   client -> http-proxy (Node) -> mTLS (TLS 1.3, RSA-2048, HTTP/1.1 keep-alive) -> http-proxy -> nginx
  F   the floor: M's hops in bare Node (node:http -> node:http2 over mTLS -> node:http), no mesh features
  R   the raw floor: bare Node without node:http/http2 (HTTP/1.1 framed by hand, frames over one mTLS connection)
  M   client -> tsmesh sidecar (client-only) -> mTLS h2 -> tsmesh sidecar (backend.bench) -> nginx
      M, F and R run with the V8 flags of the injected sidecar (SIDECAR_NODE_OPTIONS, control-plane/src/k8s/sidecar-spec.ts)
  CP  control plane: Apply -> ACK by every one of --sims simulated sidecars (one process)
  CA  workload CSRs signed per second (in process)

Options:
  --quick                   about a minute: 2 x 3 s saturation runs, one 4 s latency run, fewer CP trials
  --runs N                  saturation runs per scenario                          [5; quick 2]
  --duration S              seconds per saturation run (wrk)                      [10; quick 3]
  --connections C           wrk connections                                       [32]
  --threads T               wrk threads                                           [1]
  --rate R                  fixed request rate of the latency runs, same for all  [500]
  --latency-runs N          fixed-rate runs per scenario                          [3; quick 1]
  --latency-duration S      measured seconds per fixed-rate run (after a warm-up) [15; quick 4]
  --latency-connections C   connections of the fixed-rate client                  [16]
  --sims LIST               simulated sidecar counts for CP                       [100,1000]
  --cp-trials N             config changes per sim count                          [5; quick 2]
  --haproxy-threads N       nbthread of each HAProxy                              [1]
  --node-defaults           run M, F and R with Node's default heap sizing instead
  --profile                 also run M once with --cpu-prof on both sidecars and list the top self-time functions and files
  --no-build                do not build first (npm run build)
  --no-install              do not apt-get install missing peers
  --out DIR                 where results go                                      [bench/results]
  --help                    this text
`;

const args = parseCli(
  {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string', default: 'D,H,N,F,R,M,CP,CA' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    rate: { type: 'string', default: '500' },
    'latency-runs': { type: 'string' },
    'latency-duration': { type: 'string' },
    'latency-connections': { type: 'string', default: '16' },
    sims: { type: 'string', default: '100,1000' },
    'cp-trials': { type: 'string' },
    'haproxy-threads': { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    'node-defaults': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    out: { type: 'string', default: join(BENCH_DIR, 'results') },
  },
  USAGE,
);

const quick = args.quick;
const num = (value, full, fast) => (value !== undefined ? Number(value) : quick ? fast : full);
const P = {
  quick,
  runs: num(args.runs, 5, 2),
  duration: num(args.duration, 10, 3),
  connections: Number(args.connections),
  threads: Number(args.threads),
  rate: Number(args.rate),
  latencyRuns: num(args['latency-runs'], 3, 1),
  latencyDuration: num(args['latency-duration'], 20, 3),
  latencyWarmup: quick ? 1 : 2,
  latencyConnections: Number(args['latency-connections']),
  sims: args.sims,
  cpTrials: num(args['cp-trials'], 5, 1),
  haproxyThreads: Number(args['haproxy-threads']),
  warmupSeconds: quick ? 1 : 3,
  caSeconds: quick ? 1.5 : 3,
};
const wanted = new Set(args.scenarios.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
for (const s of wanted) if (!['D', 'H', 'N', 'F', 'R', 'M', 'CP', 'CA'].includes(s)) {
  process.stderr.write(`unknown scenario "${s}"\n\n${USAGE}`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

let interrupted = false;
const cleanup = stopOnExit(log, () => (interrupted = true));

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function versionOf(command, flag) {
  const r = spawnSync(command, [flag], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

function ensurePeers() {
  const missing = ['haproxy', 'nginx', 'wrk'].filter((c) => !has(c));
  if (missing.length === 0) return [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (args['no-install'] || !isRoot) {
    log(`missing ${missing.join(', ')}; ${isRoot ? '--no-install given' : 'not root'}, so not installing them (apt-get install -y ${missing.join(' ')}). Scenarios that need them are skipped.`);
    return missing;
  }
  log(`installing ${missing.join(', ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env });
  }
  return ['haproxy', 'nginx', 'wrk'].filter((c) => !has(c));
}

async function runWrk(stack, seconds, luaFile) {
  const wrkArgs = ['-t', String(P.threads), '-c', String(P.connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', luaFile, '-H', `Host: ${stack.hostHeader}`, `http://127.0.0.1:${stack.entryPort}/`];
  const proc = startProcess(`wrk-${stack.id}`, 'wrk', wrkArgs);
  const code = await proc.exited;
  const line = proc.output().split('\n').find((l) => l.startsWith('{"event":"wrk"'));
  if (code !== 0 || !line) throw new Error(`wrk against ${stack.id} failed (${code}):\n${proc.output()}`);
  const r = JSON.parse(line);
  const seconds_ = r.duration_us / 1e6;
  const errors = r.connect + r.read + r.write + r.timeout;
  return { requests: r.requests, measuredRequests: r.requests, seconds: seconds_, rps: r.requests / seconds_, errors, non2xx: r.status };
}

// rebase() is called when the client's warm-up ends: steady-state figures count from there.
async function runOpenLoop(stack, rebase) {
  const proc = startOpenLoop(`openloop-${stack.id}`, { port: stack.entryPort, hostHeader: stack.hostHeader, rate: P.rate, duration: P.latencyDuration, warmup: P.latencyWarmup, connections: P.latencyConnections });
  proc.waitForEvent((e) => e.event === 'measuring', (P.latencyWarmup + 30) * 1000).then(rebase, () => undefined);
  const r = await openLoopResult(proc, `open-loop client against ${stack.id}`);
  return { ...r, measuredRequests: r.completedMeasured };
}

// Runs `load` while sampling the stack's processes: CPU delta, RSS peak, and new connections to the
// mTLS port. A load may call rebase() once its warm-up is over; CPU and connections then count from there.
async function measured(stack, load) {
  const procs = stack.procs;
  let cpuBefore = procs.map((p) => cpuSeconds(p.proc.pid));
  let connsBefore = stack.meshPort ? connectionsTo(stack.meshPort) : new Set();
  let seen = new Set(connsBefore);
  const rssMax = procs.map(() => 0);
  const sample = () => {
    procs.forEach((p, i) => {
      rssMax[i] = Math.max(rssMax[i], memory(p.proc.pid).rssMiB);
    });
    if (stack.meshPort) for (const c of connectionsTo(stack.meshPort)) seen.add(c);
  };
  const rebase = () => {
    cpuBefore = procs.map((p) => cpuSeconds(p.proc.pid));
    connsBefore = stack.meshPort ? connectionsTo(stack.meshPort) : new Set();
    seen = new Set(connsBefore);
  };
  const timer = setInterval(sample, 250);
  let result;
  try {
    result = await load(rebase);
  } finally {
    clearInterval(timer);
  }
  sample();
  const cpu = procs.map((p, i) => cpuSeconds(p.proc.pid) - cpuBefore[i]);
  let newConns = 0;
  for (const c of seen) if (!connsBefore.has(c)) newConns += 1;
  const per1k = result.measuredRequests / 1000;
  return {
    ...result,
    cpuSecondsPer1k: Object.fromEntries(procs.map((p, i) => [p.role, cpu[i] / per1k])),
    rssMaxMB: Object.fromEntries(procs.map((p, i) => [p.role, (rssMax[i] * 1048576) / 1e6])),
    newConnections: stack.meshPort ? newConns : null,
    newConnectionsPer1k: stack.meshPort ? newConns / per1k : null,
  };
}

function memoryMB(pid) {
  const m = memoryDetail(pid);
  return { rss: m.rss / 1e6, hwm: m.hwm / 1e6, file: m.file / 1e6 };
}

async function main() {
  const started = new Date();
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
  mkdirSync(args.out, { recursive: true });

  if (!args['no-build']) {
    log('building (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  const dataPlane = ['D', 'H', 'N', 'F', 'R', 'M'].filter((s) => wanted.has(s));
  let missing = [];
  if (dataPlane.length > 0) missing = ensurePeers();
  const skipped = {};
  if (missing.includes('nginx') || missing.includes('wrk')) for (const s of dataPlane) skipped[s] = `needs ${missing.join(', ')}`;
  else if (missing.includes('haproxy') && dataPlane.includes('H')) skipped.H = 'needs haproxy';
  const runScenarios = dataPlane.filter((s) => !skipped[s]);

  // Only after the build: these import the workspaces' dist/.
  const { writeBenchCertificates } = await import('./lib/certs.mjs');
  const { startNginx, startHaproxyPair, startNodePair, startFloorPair, startRawFloorPair, BACKEND_BODY } = await import('./lib/peers.mjs');
  const { startControlPlane, startMeshPair, SHIPPED_NODE_OPTIONS } = await import('./lib/mesh.mjs');
  const v8Options = args['node-defaults'] ? '' : SHIPPED_NODE_OPTIONS;
  P.meshNodeOptions = v8Options;
  const { topSelfTime } = await import('./lib/profile.mjs');

  const results = {
    startedAt: started.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', kernel: release(), node: process.version },
    versions: { haproxy: has('haproxy') ? versionOf('haproxy', '-v') : null, nginx: has('nginx') ? versionOf('nginx', '-v') : null, wrk: has('wrk') ? versionOf('wrk', '--version') : null },
    params: P,
    skipped,
    scenarios: {},
  };

  if (runScenarios.length > 0) {
    const dir = makeTempDir('dp');
    const luaFile = join(dir, 'report.lua');
    writeFileSync(luaFile, `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"event":"wrk","requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
`);
    const certDir = join(dir, 'certs');
    mkdirSync(certDir);
    const certs = await writeBenchCertificates(certDir);
    log('starting nginx');
    const nginx = await startNginx(dir);
    const stacks = [];
    const host = 'backend.bench';
    let cp;
    for (const id of runScenarios) {
      log(`starting scenario ${id}`);
      if (id === 'D') stacks.push({ id, entryPort: nginx.port, hostHeader: host, meshPort: undefined, procs: [] });
      if (id === 'H') {
        const h = await startHaproxyPair(dir, certs, nginx.port, P.haproxyThreads);
        stacks.push({ id, entryPort: h.entryPort, hostHeader: host, meshPort: h.meshPort, procs: [{ role: 'client', proc: h.client }, { role: 'server', proc: h.server }] });
      }
      if (id === 'N') {
        const n = await startNodePair(certDir, nginx.port);
        stacks.push({ id, entryPort: n.entryPort, hostHeader: host, meshPort: n.meshPort, procs: [{ role: 'client', proc: n.client }, { role: 'server', proc: n.server }] });
      }
      if (id === 'F') {
        const f = await startFloorPair(certDir, nginx.port, v8Options);
        stacks.push({ id, entryPort: f.entryPort, hostHeader: host, meshPort: f.meshPort, procs: [{ role: 'client', proc: f.client }, { role: 'server', proc: f.server }] });
      }
      if (id === 'R') {
        const f = await startRawFloorPair(certDir, nginx.port, v8Options);
        stacks.push({ id, entryPort: f.entryPort, hostHeader: host, meshPort: f.meshPort, procs: [{ role: 'client', proc: f.client }, { role: 'server', proc: f.server }] });
      }
      if (id === 'M') {
        cp = await startControlPlane(join(dir, 'mesh-data'));
        const m = await startMeshPair(cp, nginx.port, [], () => ({ NODE_OPTIONS: v8Options }));
        stacks.push({ id, entryPort: m.entryPort, hostHeader: host, meshPort: m.meshPort, procs: [{ role: 'client', proc: m.client }, { role: 'server', proc: m.server }] });
      }
    }
    for (const stack of stacks) {
      const r = await httpGet(stack.entryPort, stack.hostHeader);
      if (r.status !== 200 || r.body !== BACKEND_BODY) throw new Error(`scenario ${stack.id}: a request through it answered ${r.status} ${JSON.stringify(r.body.slice(0, 300))}`);
    }
    await sleep(1_000);
    const out = Object.fromEntries(stacks.map((s) => [s.id, { saturation: [], latency: [], idleMB: {}, afterLoadIdleMB: {}, fileBackedMB: {}, peakMB: {} }]));
    for (const stack of stacks) for (const p of stack.procs) out[stack.id].idleMB[p.role] = memoryMB(p.proc.pid).rss;
    log(`warm-up: ${P.warmupSeconds} s of wrk per scenario`);
    for (const stack of stacks) await runWrk(stack, P.warmupSeconds, luaFile);

    // Rounds interleave the scenarios (rotating the order) so that drift on a shared machine hits all alike.
    for (let round = 0; round < P.runs; round++) {
      for (let k = 0; k < stacks.length; k++) {
        const stack = stacks[(k + round) % stacks.length];
        const r = await measured(stack, () => runWrk(stack, P.duration, luaFile));
        out[stack.id].saturation.push(r);
        log(`saturation ${round + 1}/${P.runs} ${stack.id}: ${fmt(r.rps)} req/s${r.errors || r.non2xx ? ` (${r.errors} errors, ${r.non2xx} non-2xx)` : ''}`);
        await sleep(500);
      }
    }
    for (let round = 0; round < P.latencyRuns; round++) {
      for (let k = 0; k < stacks.length; k++) {
        const stack = stacks[(k + round) % stacks.length];
        const r = await measured(stack, (rebase) => runOpenLoop(stack, rebase));
        out[stack.id].latency.push(r);
        log(`latency ${round + 1}/${P.latencyRuns} ${stack.id} at ${P.rate}/s: p50 ${ms(r.latencyUs.p50)} p99 ${ms(r.latencyUs.p99)} p99.9 ${ms(r.latencyUs.p999)} ms${r.errors || r.non2xx || r.unfinished ? ` (${r.errors} errors, ${r.non2xx} non-2xx, ${r.unfinished} unfinished)` : ''}`);
        await sleep(500);
      }
    }
    await sleep(2_000);
    for (const stack of stacks) {
      for (const p of stack.procs) {
        const m = memoryMB(p.proc.pid);
        out[stack.id].afterLoadIdleMB[p.role] = m.rss;
        out[stack.id].fileBackedMB[p.role] = m.file;
        out[stack.id].peakMB[p.role] = m.hwm;
      }
    }
    for (const stack of stacks) results.scenarios[stack.id] = summarize(stack, out[stack.id]);

    if (args.profile && cp) {
      log('profiling M: a second sidecar pair with --cpu-prof');
      const profDir = join(dir, 'profiles');
      mkdirSync(profDir);
      const m = await startMeshPair(cp, nginx.port, ['--cpu-prof', '--cpu-prof-dir', profDir], () => ({ NODE_OPTIONS: v8Options }));
      const stack = { id: 'M-profiled', entryPort: m.entryPort, hostHeader: host, meshPort: m.meshPort, procs: [{ role: 'client', proc: m.client }, { role: 'server', proc: m.server }] };
      await runWrk(stack, P.warmupSeconds, luaFile);
      const r = await runWrk(stack, P.duration, luaFile);
      const pids = { [m.client.pid]: 'client', [m.server.pid]: 'server' };
      await m.client.stop();
      await m.server.stop();
      const profile = { rps: r.rps, sidecars: {} };
      for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))) {
        const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
        profile.sidecars[pids[pid] ?? file] = topSelfTime(join(profDir, file), REPO_ROOT, 15);
      }
      results.profile = profile;
    }
    log('stopping the data plane');
    cp?.admin.close();
    await stopAll();
  }

  if (wanted.has('CP')) {
    log(`control plane: config -> ACK for ${P.sims} simulated sidecars`);
    const dir = makeTempDir('cp');
    const cp = await startControlPlane(join(dir, 'data'));
    const cpPid = cp.proc.pid;
    const cpuBefore = cpuSeconds(cpPid);
    const proc = startProcess('cp-bench', process.execPath, [join(BENCH_DIR, 'lib', 'cp-bench.mjs'), '--address', cp.address, '--data-dir', cp.dataDir, '--sims', P.sims, '--trials', String(P.cpTrials)]);
    const code = await proc.exited;
    const lines = proc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    if (code !== 0) throw new Error(`cp-bench failed (${code}):\n${proc.output()}`);
    const cpMem = memoryMB(cpPid);
    results.controlPlane = {
      results: lines.filter((l) => l.event === 'result'),
      connected: lines.filter((l) => l.event === 'connected'),
      controlPlaneCpuSeconds: cpuSeconds(cpPid) - cpuBefore,
      controlPlanePeakMB: cpMem.hwm,
    };
    for (const r of results.controlPlane.results) log(`  ${r.sims} sims: p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms`);
    cp.admin.close();
    await stopAll();
  }

  if (wanted.has('CA')) {
    log('CA: CSRs signed per second');
    const dir = makeTempDir('ca');
    const proc = startProcess('ca-bench', process.execPath, [join(BENCH_DIR, 'lib', 'ca-bench.mjs'), '--data-dir', join(dir, 'data'), '--seconds', String(P.caSeconds)]);
    const code = await proc.exited;
    const line = proc.output().split('\n').find((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`ca-bench failed (${code}):\n${proc.output()}`);
    results.ca = JSON.parse(line);
    log(`  ${fmt(results.ca.perSecondMedian)} CSRs/s`);
    await stopAll();
  }

  results.finishedAt = new Date().toISOString();
  results.targets = targets(results);
  const md = markdown(results);
  const base = join(args.out, stamp);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  copyFileSync(`${base}.md`, join(args.out, 'latest.md'));
  process.stdout.write(md);
  log(`wrote ${base}.md, ${base}.json and ${join(args.out, 'latest.md')}`);
}

function summarize(stack, o) {
  const sat = o.saturation;
  const lat = o.latency;
  const roles = stack.procs.map((p) => p.role);
  const pct = (key) => spread(lat.map((r) => r.latencyUs[key]));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const latRequests = sum(lat.map((r) => r.measuredRequests));
  const satRequests = sum(sat.map((r) => r.requests));
  return {
    throughput: spread(sat.map((r) => r.rps)),
    saturationErrors: sum(sat.map((r) => r.errors + r.non2xx)),
    latencyUs: { p50: pct('p50'), p90: pct('p90'), p99: pct('p99'), p999: pct('p999'), max: pct('max') },
    latencyErrors: sum(lat.map((r) => r.errors + r.non2xx + r.unfinished)),
    latencyQueuedSends: sum(lat.map((r) => r.queuedSends)),
    achievedRate: median(lat.map((r) => r.achievedRate)),
    cpuSecondsPer1k: Object.fromEntries(roles.map((role) => [role, median(sat.map((r) => r.cpuSecondsPer1k[role]))])),
    cpuSecondsPer1kAtFixedRate: Object.fromEntries(roles.map((role) => [role, median(lat.map((r) => r.cpuSecondsPer1k[role]))])),
    idleMB: o.idleMB,
    afterLoadIdleMB: o.afterLoadIdleMB,
    peakMB: o.peakMB,
    fileBackedMB: o.fileBackedMB,
    rssMaxUnderLoadMB: Object.fromEntries(roles.map((role) => [role, max([...sat, ...lat].map((r) => r.rssMaxMB[role]))])),
    newConnectionsPer1kSteady: stack.meshPort ? sum(lat.map((r) => r.newConnections)) / (latRequests / 1000) : null,
    newConnectionsSteady: stack.meshPort ? sum(lat.map((r) => r.newConnections)) : null,
    newConnectionsPer1kSaturation: stack.meshPort ? sum(sat.map((r) => r.newConnections)) / (satRequests / 1000) : null,
    saturationRuns: sat,
    latencyRuns: lat,
  };
}

function targets(results) {
  const s = results.scenarios;
  const t = [];
  const add = (name, goal, value, display, met) => t.push({ name, goal, value, display, met: Number.isFinite(value) ? met : null });
  const thr = (id) => s[id]?.throughput.median ?? NaN;
  const lat = (id, key) => s[id]?.latencyUs[key].median ?? NaN;
  // A row whose scenarios were left out of this run (--scenarios) says so, instead of a NaN or a ratio to nothing.
  const notInRun = (name, goal, absent) => t.push({ name, goal, value: null, display: `not in this run: needs ${absent.length > 1 ? `scenarios ${absent.slice(0, -1).join(', ')} and ${absent.at(-1)}` : `scenario ${absent[0]}`} (--scenarios)`, met: null });
  const needing = (ids, name, goal, row) => {
    const absent = ids.filter((id) => !s[id]);
    if (absent.length > 0) notInRun(name, goal, absent);
    else add(name, goal, ...row());
  };
  needing(['M', 'H'], 'Throughput M / H', '>= 0.5', () => [thr('M') / thr('H'), `${(thr('M') / thr('H')).toFixed(2)} (${fmt(thr('M'))} / ${fmt(thr('H'))} req/s)`, thr('M') / thr('H') >= 0.5]);
  for (const [key, goal, label] of [['p99', 2, 'p99'], ['p999', 3, 'p99.9']]) {
    needing(['M', 'H', 'D'], `Added ${label} over D: M / H`, `<= ${goal}`, () => {
      const addedM = lat('M', key) - lat('D', key);
      const addedH = lat('H', key) - lat('D', key);
      // H adding nothing measurable (noise) leaves the ratio undefined, not "met".
      const ratio = addedH > 0 ? addedM / addedH : NaN;
      const shown = addedH > 0 ? ratio.toFixed(2) : `no ratio: H's ${label} was not above D's in this run`;
      const signed = (x) => `${x >= 0 ? '+' : ''}${ms(x)}`;
      return [ratio, `${shown} (M ${signed(addedM)} ms, H ${signed(addedH)} ms)`, ratio <= goal];
    });
  }
  needing(['M', 'N'], 'Throughput M / N', '>= 2', () => [thr('M') / thr('N'), `${(thr('M') / thr('N')).toFixed(2)} (${fmt(thr('M'))} / ${fmt(thr('N'))} req/s)`, thr('M') / thr('N') >= 2]);
  needing(['M', 'N'], 'p99 M vs N (no worse)', 'M <= N', () => [lat('M', 'p99') / lat('N', 'p99'), `M ${ms(lat('M', 'p99'))} ms, N ${ms(lat('N', 'p99'))} ms`, lat('M', 'p99') <= lat('N', 'p99')]);
  const m = s.M;
  needing(['M'], 'Idle RSS per sidecar (worse of the two)', '<= 50 MB', () => {
    const idle = Math.max(...Object.values(m.idleMB));
    const afterIdle = Math.max(...Object.values(m.afterLoadIdleMB));
    // VmRSS counts the node binary's pages in every process that maps it; said beside the figure, not taken out of it.
    const fileBacked = Math.max(...Object.values(m.fileBackedMB ?? {}));
    const shared = Number.isFinite(fileBacked) ? ` (${fileBacked.toFixed(1)} MB of it file-backed, mostly the node binary, whose pages every node process on the host shares)` : '';
    return [Math.max(idle, afterIdle), `${idle.toFixed(1)} MB fresh, ${afterIdle.toFixed(1)} MB idle after load${shared}`, Math.max(idle, afterIdle) <= 50];
  });
  needing(['M'], 'Peak RSS per sidecar under load (VmHWM)', '<= 64 MB', () => {
    const peak = Math.max(...Object.values(m.peakMB));
    return [peak, `${peak.toFixed(1)} MB`, peak <= 64];
  });
  needing(['M'], 'New TLS handshakes per 1,000 requests (M, steady state)', '<= 1', () => {
    const hs = m.newConnectionsPer1kSteady ?? NaN;
    return [hs, `${hs.toFixed(3)} (${m.newConnectionsSteady ?? 'n/a'} new connections at ${results.params.rate}/s)`, hs <= 1];
  });
  const cp1000 = results.controlPlane?.results.find((r) => r.sims === 1000);
  if (!results.controlPlane) notInRun('Config -> ACK p99, 1,000 sidecars', '<= 1 s', ['CP']);
  else add('Config -> ACK p99, 1,000 sidecars', '<= 1 s', cp1000 ? cp1000.p99Ms : NaN, cp1000 ? `${fmt(cp1000.p99Ms)} ms` : 'n/a: no 1,000-sidecar trial (--sims)', cp1000 ? cp1000.p99Ms <= 1000 : false);
  if (!results.ca) notInRun('CA CSRs signed per second', '>= 1,000', ['CA']);
  else add('CA CSRs signed per second', '>= 1,000', results.ca.perSecondMedian, `${fmt(results.ca.perSecondMedian)} /s`, results.ca.perSecondMedian >= 1000);
  // Not a goal of the issue: how much of M's cost is the mesh's own, next to Node's bare http/http2 on the same hops.
  needing(['M', 'F', 'H'], 'For reference: throughput M / F (the bare Node floor)', 'info', () => [thr('M') / thr('F'), `${(thr('M') / thr('F')).toFixed(2)} (${fmt(thr('M'))} / ${fmt(thr('F'))} req/s); F / H ${(thr('F') / thr('H')).toFixed(2)}`, null]);
  // What a Node sidecar reaches once it frames the bytes itself: whether the targets are within Node's reach at all.
  needing(['R', 'H', 'N', 'M'], 'For reference: throughput R / H and R / N (the raw Node floor)', 'info', () => [thr('R') / thr('H'), `R / H ${(thr('R') / thr('H')).toFixed(2)}, R / N ${(thr('R') / thr('N')).toFixed(2)} (${fmt(thr('R'))} req/s); M / R ${(thr('M') / thr('R')).toFixed(2)}`, null]);
  t.push({ name: 'No RSS growth over a 10-minute soak', goal: 'flat', value: null, display: 'not measured by this harness: npm run bench:soak (bench/results/soak-latest.md)', met: null });
  return t;
}

function markdown(r) {
  const L = [];
  const p = r.params;
  L.push(`# tsmesh benchmark — ${r.startedAt}`, '');
  L.push(`${r.machine.cpus} × ${r.machine.cpuModel}, Linux ${r.machine.kernel}, Node ${r.machine.node}; ${r.versions.haproxy ?? 'no haproxy'}; ${r.versions.nginx ?? 'no nginx'}; ${r.versions.wrk ?? 'no wrk'}.`);
  L.push(`Saturation: wrk -t${p.threads} -c${p.connections}, ${p.runs} × ${p.duration} s per scenario, interleaved; median (min–max). Latency: open loop at ${p.rate} req/s over ${p.latencyConnections} connections, ${p.latencyRuns} × ${p.latencyDuration} s (after ${p.latencyWarmup} s warm-up); median of runs (min–max). M, F and R: ${p.meshNodeOptions ? `NODE_OPTIONS="${p.meshNodeOptions}", as the injected sidecar` : "Node's default heap sizing"}.${p.quick ? ' **Quick run: too short to quote.**' : ''}`, '');
  for (const [id, why] of Object.entries(r.skipped)) L.push(`Skipped ${id}: ${why}.`);
  const ids = ['D', 'H', 'N', 'F', 'R', 'M'].filter((id) => r.scenarios[id]);
  if (ids.length > 0) {
    const names = { D: 'D direct → nginx', H: 'H HAProxy pair', N: 'N http-proxy pair', F: 'F bare Node h2 pair (floor)', R: 'R raw Node pair (floor)', M: 'M tsmesh sidecars' };
    const pair = (o, d = 3) => (o && Object.keys(o).length ? `${fmt(o.client, d)} / ${fmt(o.server, d)}` : '—');
    const lat = (x) => `${ms(x.median)} (${ms(x.min)}–${ms(x.max)})`;
    L.push(`| scenario | req/s at saturation | p50 ms @${p.rate}/s | p99 ms | p99.9 ms | CPU s per 1k req (client / server proxy) | RSS MB idle (client / server) | RSS MB peak | new conns per 1k req (steady / saturation) |`);
    L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const id of ids) {
      const s = r.scenarios[id];
      const conns = s.newConnectionsPer1kSteady === null ? '—' : `${s.newConnectionsPer1kSteady.toFixed(3)} / ${s.newConnectionsPer1kSaturation.toFixed(3)}`;
      const errors = s.saturationErrors + s.latencyErrors > 0 ? ` ⚠ ${s.saturationErrors + s.latencyErrors} errors` : '';
      L.push(`| ${names[id]}${errors} | ${fmt(s.throughput.median)} (${fmt(s.throughput.min)}–${fmt(s.throughput.max)}) | ${lat(s.latencyUs.p50)} | ${lat(s.latencyUs.p99)} | ${lat(s.latencyUs.p999)} | ${pair(s.cpuSecondsPer1k)} | ${pair(s.idleMB, 1)} | ${pair(s.peakMB, 1)} | ${conns} |`);
    }
    L.push('');
  }
  if (r.controlPlane) {
    L.push('| control plane | p50 | p99 | max | all SYNCED in ListProxies (median of trials) | Apply RPC (median) |');
    L.push('| --- | --- | --- | --- | --- | --- |');
    for (const c of r.controlPlane.results) L.push(`| Apply → ACK, ${fmt(c.sims)} simulated sidecars × ${c.trials} changes | ${fmt(c.p50Ms)} ms | ${fmt(c.p99Ms)} ms | ${fmt(c.maxMs)} ms | ${fmt(c.listProxiesAllSyncedMsMedian)} ms | ${fmt(c.applyRpcMsMedian, 1)} ms |`);
    L.push('');
  }
  if (r.ca) L.push(`CA: ${fmt(r.ca.perSecondMedian)} CSRs signed per second (${fmt(r.ca.perSecondMin)}–${fmt(r.ca.perSecondMax)}, in process, one at a time).`, '');
  L.push('| target | goal | measured | met |', '| --- | --- | --- | --- |');
  for (const t of r.targets) L.push(`| ${t.name} | ${t.goal} | ${t.display} | ${t.goal === 'info' ? '—' : t.met === null ? 'not measured' : t.met ? 'met' : '**not met**'} |`);
  L.push('');
  if (r.profile) {
    L.push(`## Where the time goes in M (--cpu-prof, ${fmt(r.profile.rps)} req/s while profiled)`, '');
    for (const [role, prof] of Object.entries(r.profile.sidecars)) {
      L.push(`${role} sidecar, ${fmt(prof.busyMs)} ms busy:`, '', '| self % | self ms | function |', '| --- | --- | --- |');
      for (const f of prof.top) L.push(`| ${f.percent.toFixed(1)} | ${fmt(f.selfMs)} | \`${f.function}\` |`);
      L.push('');
      if (prof.files) {
        L.push(`${role} sidecar, self time by file:`, '', '| self % | self ms | file |', '| --- | --- | --- |');
        for (const f of prof.files) L.push(`| ${f.percent.toFixed(1)} | ${fmt(f.selfMs)} | \`${f.file}\` |`);
        L.push('');
      }
    }
  }
  return `${L.join('\n')}\n`;
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (error) => {
    if (interrupted) return;
    log(`failed: ${error.stack ?? error}`);
    await cleanup();
    process.exit(1);
  });
