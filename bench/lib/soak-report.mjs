// The soak's arithmetic (trend, heap floor) and its verdicts and Markdown report against issue 7's memory targets.
import { fmt, ms } from './stats.mjs';

// A leak of 10 bytes per request at 500 req/s is 0.3 MB/min; below this tolerance we call RSS flat.
export const FLAT_MB_PER_MIN = 0.25;

// Least-squares slope of [seconds, MB] points, in MB per minute.
export function slopePerMinute(points) {
  const n = points.length;
  if (n < 3) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx > 0 ? (sxy / sxx) * 60 : NaN;
}

// The lowest point of each window of `seconds`, at the window's middle.
export function floors(points, seconds) {
  const out = [];
  if (points.length === 0) return out;
  let start = points[0][0];
  let low = Infinity;
  for (const [x, y] of points) {
    if (x >= start + seconds) {
      if (Number.isFinite(low)) out.push([start + seconds / 2, low]);
      start = x;
      low = Infinity;
    }
    if (Number.isFinite(y)) low = Math.min(low, y);
  }
  return out;
}

const MB = (b) => (b / 1e6).toFixed(1);

const statusBreakdown = (byStatus) => {
  const entries = Object.entries(byStatus ?? {});
  return entries.length ? ` (${entries.map(([status, n]) => `${fmt(n)} × ${status}`).join(', ')})` : '';
};

export function verdicts(per) {
  const worst = (key) => Math.max(per.client[key], per.server[key]);
  const idle = Math.max(worst('idleSettledRss'), worst('idleFreshRss'));
  const peak = worst('peakRssUnderLoad');
  const slope = worst('rssSlopeMBPerMin');
  const heapSlope = worst('heapFloorSlopeMBPerMin');
  const retainedSlope = worst('retainedHeapMBPerMin');
  const retainedPerRequest = worst('retainedBytesPerRequest');
  return [
    { target: 'Idle RSS per sidecar (worse of the two, fresh or settled)', goal: '<= 50 MB', measured: `${MB(idle)} MB`, met: idle <= 50e6 },
    { target: 'Peak RSS per sidecar under load (highest sample)', goal: '<= 64 MB', measured: `${MB(peak)} MB`, met: peak <= 64e6 },
    { target: 'RSS trend over the second half of the load (worse of the two)', goal: `flat (<= ${FLAT_MB_PER_MIN} MB/min)`, measured: `${slope.toFixed(3)} MB/min`, met: slope <= FLAT_MB_PER_MIN },
    { target: 'Heap floor trend over the second half (worse of the two)', goal: `flat (<= ${FLAT_MB_PER_MIN} MB/min)`, measured: `${heapSlope.toFixed(3)} MB/min`, met: heapSlope <= FLAT_MB_PER_MIN },
    {
      target: 'Retained heap over the load: after a forced full GC, warm-up to end (worse of the two)',
      goal: `flat (<= ${FLAT_MB_PER_MIN} MB/min)`,
      measured: Number.isFinite(retainedSlope) ? `${retainedSlope.toFixed(3)} MB/min (${retainedPerRequest.toFixed(2)} bytes per request)` : 'not measured',
      met: retainedSlope <= FLAT_MB_PER_MIN,
    },
  ];
}

export function soakMarkdown(r) {
  const p = r.params;
  const c = r.client;
  const L = [];
  L.push(`# tsmesh memory soak — ${r.startedAt}${p.label ? ` (${p.label})` : ''}`, '');
  L.push(`${r.machine.cpus} × ${r.machine.cpuModel}, Linux ${r.machine.kernel}, Node ${r.machine.node}. Sidecar NODE_OPTIONS: ${p.nodeOptions === undefined ? 'not recorded' : p.nodeOptions || "none (Node's defaults)"}; node args: ${p.nodeArgs.join(' ') || 'none'}.`);
  L.push(`M pair; ${p.idle} s idle, ${p.duration} s at ${p.rate} req/s (open loop, ${p.connections} connections), ${p.idle} s idle; a sample every ${p.every} s. MB = 10⁶ bytes.`, '');
  L.push(`Load: ${fmt(c.completed)} requests, ${fmt(c.achievedRate)} req/s achieved, p50 ${ms(c.latencyUs.p50)} ms, p99 ${ms(c.latencyUs.p99)} ms, p99.9 ${ms(c.latencyUs.p999)} ms, max ${ms(c.latencyUs.max)} ms; ${c.errors} errors, ${c.non2xx} non-2xx${statusBreakdown(c.non2xxByStatus)}, ${c.unfinished} unfinished.`, '');
  L.push('| sidecar | idle RSS fresh | idle RSS settled (anon / file) | heap used settled | peak RSS under load | RSS end of load | RSS idle after | RSS slope 2nd half | heap floor slope 2nd half | CPU s per 1k req |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [role, s] of Object.entries(r.sidecars)) {
    L.push(`| ${role} | ${MB(s.idleFreshRss)} | ${MB(s.idleSettledRss)} (${MB(s.idleSettledAnon)} / ${MB(s.idleSettledFile)}) | ${MB(s.idleSettledHeapUsed)} | ${MB(s.peakRssUnderLoad)} | ${MB(s.endOfLoadRss)} | ${MB(s.idleAfterRss)} | ${s.rssSlopeMBPerMin.toFixed(3)} MB/min | ${s.heapFloorSlopeMBPerMin.toFixed(3)} MB/min | ${s.cpuSecondsPer1k.toFixed(3)} |`);
  }
  L.push('', '| target | goal | measured | met |', '| --- | --- | --- | --- |');
  for (const v of r.verdicts) L.push(`| ${v.target} | ${v.goal} | ${v.measured} | ${v.met ? 'met' : '**not met**'} |`);
  if (r.checkpoints?.length) {
    L.push('', 'Heap left after a full GC forced in each sidecar (`--expose-gc`, SIGUSR2 to bench/lib/mem-probe.mjs): what the sidecar retains, without the old-generation garbage V8 has not yet needed to collect. The first is in the load\'s first half, so the second half\'s trends above run undisturbed.', '');
    L.push('| checkpoint | t (s) | client heap before -> after GC | client RSS after | server heap before -> after GC | server RSS after |', '| --- | --- | --- | --- | --- | --- |');
    for (const c of r.checkpoints) L.push(`| ${c.name} | ${Math.round(c.t)} | ${MB(c.client.heapUsedBefore)} -> ${MB(c.client.heapUsed)} | ${MB(c.client.rss)} | ${MB(c.server.heapUsedBefore)} -> ${MB(c.server.heapUsed)} | ${MB(c.server.rss)} |`);
  }
  if (r.allocations) L.push('', 'This run sampled allocations (--alloc-profile) during the load: the profiler holds memory of its own, so its peak figures are not the sidecar\'s.');
  for (const [role, a] of Object.entries(r.allocations ?? {})) {
    L.push('', `${role} sidecar: allocated while sampled (freed objects included), about ${fmt(a.perRequestBytes / 1000, 1)} kB per request:`, '', '| % | MB | function |', '| --- | --- | --- |');
    for (const f of a.byFunction.top) L.push(`| ${f.percent.toFixed(1)} | ${MB(f.bytes)} | \`${f.function}\` |`);
  }
  // A coarse picture of the run: one row per tenth of it.
  L.push('', '| t (s) | phase | client RSS | client heap used | server RSS | server heap used |', '| --- | --- | --- | --- | --- | --- |');
  const step = Math.max(1, Math.floor(r.samples.length / 12));
  for (let i = 0; i < r.samples.length; i += step) {
    const s = r.samples[i];
    L.push(`| ${Math.round(s.t)} | ${s.phase} | ${MB(s.client.rss)} | ${MB(s.client.heapUsed)} | ${MB(s.server.rss)} | ${MB(s.server.heapUsed)} |`);
  }
  return `${L.join('\n')}\n`;
}
