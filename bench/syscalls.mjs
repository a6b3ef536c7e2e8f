#!/usr/bin/env node
// System calls per request in each proxy of the H, R and M pairs under the same wrk load (perf's syscall tracepoints):
// whether a pair is slower because it makes more calls into the kernel, or because of what it does between them.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { stopOnExit, parseCli, runMain, sleep, buildWorkspaces } from './lib/procs.mjs';
import { fmt } from './lib/stats.mjs';
import { forEachPair, parsePairList } from './lib/pairs.mjs';

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

const USAGE = `node bench/syscalls.mjs [options]          (as root: perf reads the kernel's syscall tracepoints)

Starts nginx and, one after another, the H, R and M pairs in front of it (as npm run bench does), drives
each with wrk -t1 -c32, and counts each proxy's system calls over a window in the middle of the run
with perf stat. Prints, per proxy, system calls per request in all and by the calls that move data
(read, write, readv, writev, recvfrom, sendto) and wait (epoll_wait, epoll_pwait), and the rest.

Options:
  --scenarios LIST   which pairs, of H, R, M                          [H,R,M]
  --duration S       seconds of wrk per pair (counted: the middle 5)   [9]
  --connections C    wrk connections                                   [32]
  --no-build         do not build first (npm run build)
  --help             this text
`;

const args = parseCli(
  {
    scenarios: { type: 'string', default: 'H,R,M' },
    duration: { type: 'string', default: '9' },
    connections: { type: 'string', default: '32' },
    'no-build': { type: 'boolean', default: false },
  },
  USAGE,
);

const log = (msg) => process.stderr.write(`[syscalls ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const cleanup = stopOnExit(log);

const CALLS = ['read', 'write', 'readv', 'writev', 'recvfrom', 'sendto', 'epoll_wait', 'epoll_pwait'];
const COUNTED_SECONDS = 5;

// perf stat -x, prints "count,unit,event,..." per event on stderr.
function countSyscalls(pid, seconds) {
  const events = ['raw_syscalls:sys_enter', ...CALLS.map((c) => `syscalls:sys_enter_${c}`)];
  const perf = spawn('perf', ['stat', '-x,', '-e', events.join(','), '-p', String(pid), '--', 'sleep', String(seconds)]);
  let err = '';
  perf.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    perf.on('error', reject);
    perf.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`perf stat exited ${code}: ${err.trim().slice(0, 500)}`));
      const counts = {};
      for (const line of err.trim().split('\n')) {
        const [count, , event] = line.split(',');
        if (event === undefined) continue;
        const name = event === 'raw_syscalls:sys_enter' ? 'all' : event.replace('syscalls:sys_enter_', '');
        counts[name] = Number(count);
      }
      resolve(counts);
    });
  });
}

async function measure(name, pair, host, duration, connections) {
  const wrk = spawn('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, ...(host ? ['-H', `Host: ${host}`] : []), `http://127.0.0.1:${pair.entryPort}/`]);
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  const finished = new Promise((resolve) => wrk.on('exit', resolve));
  await sleep(((duration - COUNTED_SECONDS) / 2) * 1000);
  const [client, server] = await Promise.all([countSyscalls(pair.client.pid, COUNTED_SECONDS), countSyscalls(pair.server.pid, COUNTED_SECONDS)]);
  await finished;
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!(rate > 0)) throw new Error(`wrk gave no rate for ${name}:\n${out}`);
  return { name, rate, client, server };
}

async function main() {
  const which = parsePairList(args.scenarios);
  const duration = Number(args.duration);
  if (!(duration > COUNTED_SECONDS + 1)) throw new Error(`--duration must be more than ${COUNTED_SECONDS + 1} seconds (the middle ${COUNTED_SECONDS} are counted)`);
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed: apt-get install -y linux-perf');
  const probe = spawnSync('perf', ['stat', '-e', 'raw_syscalls:sys_enter', '--', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`perf cannot read syscall tracepoints here (run as root, with tracefs mounted): ${probe.stderr.trim().slice(0, 300)}`);
  if (!args['no-build'] && which.includes('M')) {
    log('building (npm run build)');
    buildWorkspaces(REPO_ROOT);
  }
  const results = await forEachPair(which, 'syscalls', [], (name, pair, host) => {
    log(`scenario ${name}`);
    return measure(name, pair, host, duration, Number(args.connections));
  });
  const perRequest = (counts, r, name) => fmt((counts[name] ?? 0) / (r.rate * COUNTED_SECONDS), 2);
  const lines = [
    `System calls per request, wrk -t1 -c${args.connections}, counted over ${COUNTED_SECONDS} s in the middle of a ${duration} s run (perf stat, syscall tracepoints); perf's own cost lowers the rates a little.`,
    '',
    `| pair | req/s | proxy | all | ${CALLS.join(' | ')} | other |`,
    `| --- | --- | --- | --- | ${CALLS.map(() => '---').join(' | ')} | --- |`,
  ];
  for (const r of results) {
    for (const side of ['client', 'server']) {
      const c = r[side];
      const other = (c.all ?? 0) - CALLS.reduce((sum, name) => sum + (c[name] ?? 0), 0);
      lines.push(`| ${r.name} | ${fmt(r.rate)} | ${side} | ${perRequest(c, r, 'all')} | ${CALLS.map((name) => perRequest(c, r, name)).join(' | ')} | ${fmt(other / (r.rate * COUNTED_SECONDS), 2)} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

runMain(main, cleanup, log);
