#!/usr/bin/env node
// npm bin shim: runs the compiled mesh-sidecar (build with `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin/mesh-sidecar.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('mesh-sidecar: not built yet; run `npm run build` in the tsmesh checkout first\n');
  process.exit(1);
}
await import(entry.href);
