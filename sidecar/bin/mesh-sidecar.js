#!/usr/bin/env node
// npm bin shim: runs the bundled mesh-sidecar (build with `npm run build`); MESH_SIDECAR_UNBUNDLED=1 runs tsc's
// output instead, one file per module, for profiles by file (bench:perf) and debugging.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const unbundled = process.env.MESH_SIDECAR_UNBUNDLED === '1';
const entry = new URL(unbundled ? '../dist/bin/mesh-sidecar.js' : '../dist/bundle/mesh-sidecar.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('mesh-sidecar: not built yet; run `npm run build` in the tsmesh checkout first\n');
  process.exit(1);
}
await import(entry.href);
