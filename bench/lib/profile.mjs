// Self time per function from a V8 .cpuprofile (what `node --cpu-prof` writes).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

export function topSelfTime(file, repoRoot, limit = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, deltas[i] ?? 0));
  const byFunction = new Map();
  // Self time by source file (node's own modules by name, native work by V8's label): where a flat
  // profile's time goes when no single function stands out.
  const byFile = new Map();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') continue;
    busyUs += us;
    let where = url ? url.replace(/^file:\/\//, '') : '';
    if (where.startsWith('/')) where = relative(repoRoot, where);
    const key = `${name} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const file = where || name;
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([fn, us]) => ({ function: fn, selfMs: us / 1000, percent: (100 * us) / busyUs }));
  const files = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([file, us]) => ({ file, selfMs: us / 1000, percent: (100 * us) / busyUs }));
  return { busyMs: busyUs / 1000, top, files };
}
