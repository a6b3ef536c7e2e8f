// The H, R and M proxy pairs in front of one nginx, started one at a time for tools that look inside each (syscalls, perf).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './procs.mjs';

export const PAIR_NAMES = { H: 'H HAProxy pair', R: 'R raw Node pair', M: 'M tsmesh sidecars' };

// "H,R,M" -> ['H', 'R', 'M'], refusing anything else.
export function parsePairList(list) {
  const which = list.split(',').map((s) => s.trim().toUpperCase());
  const unknown = which.filter((s) => !(s in PAIR_NAMES));
  if (unknown.length > 0) throw new Error(`--scenarios: ${unknown.join(', ')} not among ${Object.keys(PAIR_NAMES).join(', ')}`);
  return which;
}

// Calls visit(name, pair, hostHeader) for each pair while it runs; each stops before the next starts.
// nodeArgs: extra node flags for the Node proxies (R, M). Returns what each visit returned, in order.
export async function forEachPair(which, prefix, nodeArgs, visit) {
  const { startNginx, startHaproxyPair, startRawFloorPair } = await import('./peers.mjs');
  const { writeBenchCertificates } = await import('./certs.mjs');
  const { startControlPlane, startMeshPair, SHIPPED_NODE_OPTIONS } = await import('./mesh.mjs');
  const dir = makeTempDir(prefix);
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const certs = await writeBenchCertificates(certDir);
  const nginx = await startNginx(dir);
  const results = [];
  for (const s of which) {
    if (s === 'H') {
      const h = await startHaproxyPair(dir, certs, nginx.port);
      results.push(await visit(PAIR_NAMES.H, h, undefined));
      await Promise.all([h.client.stop(), h.server.stop()]);
    }
    if (s === 'R') {
      const r = await startRawFloorPair(certDir, nginx.port, [SHIPPED_NODE_OPTIONS, ...nodeArgs].join(' '));
      results.push(await visit(PAIR_NAMES.R, r, undefined));
      await Promise.all([r.client.stop(), r.server.stop()]);
    }
    if (s === 'M') {
      const cp = await startControlPlane(join(dir, 'mesh-data'));
      const m = await startMeshPair(cp, nginx.port, nodeArgs);
      results.push(await visit(PAIR_NAMES.M, m, m.hostHeader));
      cp.admin.close();
      await Promise.all([m.client.stop(), m.server.stop(), cp.proc.stop()]);
    }
  }
  return results;
}
