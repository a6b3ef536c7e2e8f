// Preloaded into a sidecar by the benchmarks (node --import): writes its V8 heap figures to a file every
// MEM_PROBE_INTERVAL_MS, so the harness can read heap as well as RSS without touching the sidecar's code.
import { appendFileSync, writeFileSync, renameSync } from 'node:fs';
import { getHeapStatistics, getHeapSpaceStatistics } from 'node:v8';

const file = process.env.MEM_PROBE_FILE;
const interval = Number(process.env.MEM_PROBE_INTERVAL_MS ?? '1000');
if (file) {
  const write = () => {
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    const sample = { at: Date.now(), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, mallocedMemory: h.malloced_memory, peakMallocedMemory: h.peak_malloced_memory, totalPhysical: h.total_physical_size, spaces };
    // Written whole then renamed, so a reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(sample));
    renameSync(`${file}.tmp`, file);
  };
  write();
  setInterval(write, interval).unref();
}

// Optional: a sampling allocation profile that also keeps objects the GC has since freed (what drives GC
// work and promotion), from MEM_PROBE_ALLOC_DELAY_MS after start for MEM_PROBE_ALLOC_DURATION_MS.
const allocFile = process.env.MEM_PROBE_ALLOC_FILE;
if (allocFile) {
  const { Session } = await import('node:inspector');
  // Connected only for the window: a connected inspector session alone costs several MB of RSS.
  setTimeout(() => {
    const session = new Session();
    session.connect();
    const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
    void post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }).then(() =>
      setTimeout(() => {
        void post('HeapProfiler.stopSampling').then(({ profile }) => {
          writeFileSync(allocFile, JSON.stringify(profile));
          session.disconnect();
        });
      }, Number(process.env.MEM_PROBE_ALLOC_DURATION_MS ?? '30000')).unref(),
    );
  }, Number(process.env.MEM_PROBE_ALLOC_DELAY_MS ?? '0')).unref();
}

// Optional: the same sampling, over a window the harness chooses: SIGUSR2 starts it, the next SIGUSR2
// stops it and writes the profile to MEM_PROBE_ALLOC_SIGNAL_FILE (bench/ab.mjs --alloc: the measured run).
const signalFile = process.env.MEM_PROBE_ALLOC_SIGNAL_FILE;
if (signalFile) {
  const { Session } = await import('node:inspector');
  let session;
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  process.on('SIGUSR2', () => {
    if (session === undefined) {
      session = new Session();
      session.connect();
      void post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      return;
    }
    void post('HeapProfiler.stopSampling').then(({ profile }) => {
      writeFileSync(`${signalFile}.tmp`, JSON.stringify(profile));
      renameSync(`${signalFile}.tmp`, signalFile);
      session.disconnect();
      session = undefined;
    });
  });
}

// Optional: a checkpoint of what the heap retains. With --expose-gc, SIGUSR2 runs a full GC and appends
// the heap left after it to MEM_PROBE_GC_FILE, one JSON line per signal (bench/soak.mjs: tells a leak from
// old-generation garbage that V8 has not yet needed to collect).
const gcFile = process.env.MEM_PROBE_GC_FILE;
if (gcFile) {
  if (signalFile) throw new Error('mem-probe: MEM_PROBE_GC_FILE and MEM_PROBE_ALLOC_SIGNAL_FILE both listen to SIGUSR2; set one');
  if (typeof globalThis.gc !== 'function') throw new Error('mem-probe: MEM_PROBE_GC_FILE needs node --expose-gc');
  process.on('SIGUSR2', () => {
    const before = process.memoryUsage();
    const started = performance.now();
    // Twice: the first full GC can leave objects whose finalisers free more on the second.
    globalThis.gc();
    globalThis.gc();
    const after = process.memoryUsage();
    appendFileSync(gcFile, `${JSON.stringify({ at: Date.now(), gcMs: performance.now() - started, heapUsedBefore: before.heapUsed, heapUsed: after.heapUsed, heapTotal: after.heapTotal, external: after.external, rss: after.rss })}\n`);
  });
}
