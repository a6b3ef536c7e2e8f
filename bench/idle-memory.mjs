#!/usr/bin/env node
// The idle M pair's memory: RSS split into anonymous and file-backed, V8 heap spaces, a heap snapshot by
// constructor and a --heap-prof profile of the live heap by package. See bench/README.md ("Memory").
//   node bench/idle-memory.mjs [--settle S] [--node-args="--max-semi-space-size=1 ..."] [--no-heap] [--no-build]
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, stopAll, stopOnExit, parseCli, runMain, httpGet, sleep, memoryDetail, buildWorkspaces } from './lib/procs.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = join(BENCH_DIR, '..');

const USAGE = `node bench/idle-memory.mjs [options]

Starts nginx, a control plane and the M pair, sends one request, waits, and reports each sidecar's
RSS (anonymous / file-backed, by mapping), V8 heap spaces, a heap snapshot by constructor and a
--heap-prof profile of the live heap by package.

Options:
  --settle S        seconds to wait after the request before measuring    [10]
  --node-args=ARGS  extra node flags for both sidecars (on top of the injected sidecar's NODE_OPTIONS)
  --no-heap         skip the heap snapshot and --heap-prof
  --no-probe        do not preload the V8 heap probe
  --no-build        do not build first (npm run build)
  --json            print the figures as JSON
  --help            this text
`;

const args = parseCli(
  {
    settle: { type: 'string', default: '10' },
    'node-args': { type: 'string', default: '' },
    'no-heap': { type: 'boolean', default: false },
    'no-probe': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  USAGE,
);
const log = (msg) => process.stderr.write(`[idle-memory] ${msg}\n`);
stopOnExit(log);

// Resident kB per mapping (file, or [anon] / [heap] / [stack]) and permission, largest first.
function smapsTop(pid, limit = 8) {
  const by = new Map();
  let key = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) key = `${head[2] || '[anon]'} ${head[1]}`;
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by.set(key, (by.get(key) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([mapping, bytes]) => ({ mapping, bytes }));
}

const MB = (b) => (b / 1e6).toFixed(1);

async function main() {
  if (!args['no-build']) {
    buildWorkspaces(REPO_ROOT);
  }
  const { startNginx } = await import('./lib/peers.mjs');
  const { startControlPlane, startMeshPair, SHIPPED_NODE_OPTIONS } = await import('./lib/mesh.mjs');
  const { snapshotByConstructor, heapProfileByPackage } = await import('./lib/heap.mjs');
  const dir = makeTempDir('idle');
  const diag = join(dir, 'diag');
  mkdirSync(diag);
  const heap = !args['no-heap'];
  const extra = args['node-args'].split(' ').filter(Boolean);
  // 4 kB sampling instead of the default 512 kB: an idle heap of ~15 MB would otherwise be ~30 samples.
  const probe = !args['no-probe'];
  const probeArgs = probe ? ['--import', new URL('./lib/mem-probe.mjs', import.meta.url).href] : [];
  const nodeArgs = [...extra, ...probeArgs, ...(heap ? ['--heap-prof', '--heap-prof-interval=4096', `--heap-prof-dir=${diag}`, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diag}`] : [])];
  const nginx = await startNginx(dir);
  const cp = await startControlPlane(join(dir, 'mesh-data'));
  const probeFile = (role) => join(dir, `probe-${role}.json`);
  const m = await startMeshPair(cp, nginx.port, nodeArgs, (role) => (probe ? { MEM_PROBE_FILE: probeFile(role), MEM_PROBE_INTERVAL_MS: '500' } : {}));
  const r = await httpGet(m.entryPort, m.hostHeader);
  if (r.status !== 200) throw new Error(`probe answered ${r.status}`);
  log(`pair up (NODE_OPTIONS: ${SHIPPED_NODE_OPTIONS}, as the injected sidecar; node args: ${nodeArgs.join(' ') || 'none'}); settling ${args.settle} s`);
  await sleep(Number(args.settle) * 1000);
  const out = { nodeOptions: SHIPPED_NODE_OPTIONS, nodeArgs: extra, sidecars: {} };
  for (const [role, proc] of [['client', m.client], ['server', m.server]]) {
    out.sidecars[role] = { pid: proc.pid, memory: memoryDetail(proc.pid), mappings: smapsTop(proc.pid), v8: probe ? JSON.parse(readFileSync(probeFile(role), 'utf8')) : undefined };
  }
  if (heap) {
    for (const [role, proc] of [['client', m.client], ['server', m.server]]) {
      const before = new Set(readdirSync(diag));
      proc.child.kill('SIGUSR2');
      let file;
      for (let i = 0; i < 200 && !file; i++) {
        await sleep(100);
        file = readdirSync(diag).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
      }
      // Written in chunks: read it once it parses (up to 60 s on a busy machine).
      for (let i = 0; file && i < 120 && !out.sidecars[role].snapshot; i++) {
        await sleep(500);
        try {
          out.sidecars[role].snapshot = snapshotByConstructor(join(diag, file), 15);
        } catch {
          // not complete yet
        }
      }
    }
    for (const [role, proc] of [['client', m.client], ['server', m.server]]) {
      proc.child.kill('SIGINT');
      await proc.exited;
      const file = readdirSync(diag).find((f) => f.endsWith('.heapprofile') && f.includes(`.${proc.pid}.`));
      if (file) out.sidecars[role].heapProfile = heapProfileByPackage(join(diag, file), REPO_ROOT, 15);
    }
  }
  cp.admin.close();
  await stopAll();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const L = [`Idle M pair after one request and ${args.settle} s; node args: ${extra.join(' ') || 'none'}.`, ''];
  L.push('| sidecar | VmRSS MB | anonymous MB | file-backed MB | V8 heap committed / used MB | V8 physical MB | external MB | V8 malloced MB |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [role, s] of Object.entries(out.sidecars)) {
    const v = s.v8;
    L.push(`| ${role} | ${MB(s.memory.rss)} | ${MB(s.memory.anon)} | ${MB(s.memory.file)} | ${v ? `${MB(v.heapTotal)} / ${MB(v.heapUsed)}` : '—'} | ${v ? MB(v.totalPhysical) : '—'} | ${v ? MB(v.external) : '—'} | ${v ? MB(v.mallocedMemory) : '—'} |`);
  }
  L.push('', 'client: resident memory by mapping:', '', '| mapping | MB |', '| --- | --- |');
  for (const t of out.sidecars.client.mappings) L.push(`| ${t.mapping} | ${MB(t.bytes)} |`);
  const spaces = out.sidecars.client.v8?.spaces;
  if (spaces) {
    L.push('', 'client: V8 heap spaces (committed / used MB):', '', '| space | committed | used |', '| --- | --- | --- |');
    for (const [name, sp] of Object.entries(spaces)) L.push(`| ${name} | ${MB(sp.size)} | ${MB(sp.used)} |`);
  }
  for (const [role, s] of Object.entries(out.sidecars)) {
    if (s.snapshot) {
      L.push('', `${role}: heap snapshot, ${MB(s.snapshot.totalBytes)} MB in ${s.snapshot.nodeCount} objects; self size by constructor:`, '', '| what | objects | MB |', '| --- | --- | --- |');
      for (const t of s.snapshot.top) L.push(`| \`${t.name}\` | ${t.count} | ${MB(t.bytes)} |`);
    }
    if (s.heapProfile) {
      L.push('', `${role}: live heap by the code that allocated it (--heap-prof), ${MB(s.heapProfile.totalBytes)} MB sampled:`, '', '| code | MB |', '| --- | --- |');
      for (const t of s.heapProfile.top) L.push(`| ${t.name} | ${MB(t.bytes)} |`);
    }
  }
  process.stdout.write(`${L.join('\n')}\n`);
}

runMain(main, stopAll, log);
