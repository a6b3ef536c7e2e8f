#!/usr/bin/env node
// Why the tsmesh/1 connection keeps its streams in a plain object (sidecar/src/transport/mux/stream-table.ts):
// a long-lived Map with entries added and deleted all the time, before and after one full GC, against a plain
// object and an array used the same way. Prints the bytes the scavenger promoted and the work done in each phase.
// Run: node --expose-gc --trace-gc-nvp --max-semi-space-size=4 bench/gc-map-churn.mjs [map|object|array]
// (or without arguments: runs all three as child processes and prints one line each).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const kind = process.argv[2];
if (kind === undefined) {
  for (const k of ['map', 'object', 'array']) {
    const run = spawnSync(process.execPath, ['--expose-gc', '--trace-gc-nvp', '--max-semi-space-size=4', fileURLToPath(import.meta.url), k], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const phases = [];
    let promoted = 0;
    for (const line of run.stdout.split('\n')) {
      if (line.includes('gc=s ')) promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      const done = /^phase (\S+) steps (\d+)/.exec(line);
      if (done) {
        phases.push(`${done[1]}: ${done[2]} steps, ${(promoted / 1e6).toFixed(1)} MB promoted`);
        promoted = 0;
      }
    }
    process.stdout.write(`${k.padEnd(6)} ${phases.join('; ')}\n`);
  }
} else {
  // 32 values live at a time, as a connection with 32 streams in flight; every value is new.
  const store = kind === 'map' ? new Map() : kind === 'object' ? Object.create(null) : [];
  let id = 1;
  const step = () => {
    for (let i = 0; i < 2000; i++) {
      const value = { payload: new Array(40).fill(i), more: { a: [1, 2, 3], b: `x${i}` } };
      if (kind === 'map') {
        store.set(id, value);
        store.delete(id - 64);
      } else if (kind === 'object') {
        store[id] = value;
        delete store[id - 64];
      } else {
        store[(id >> 1) & 31] = value;
      }
      id += 2;
    }
  };
  const phase = (label, ms) => {
    const start = performance.now();
    let steps = 0;
    for (; performance.now() - start < ms; steps++) step();
    process.stdout.write(`phase ${label} steps ${steps}\n`);
  };
  phase('before-full-gc', 1500);
  globalThis.gc();
  phase('after-full-gc', 1500);
}
