#!/usr/bin/env node
// npm bin shim: runs the compiled meshctl (build with `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin/meshctl.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('meshctl: not built yet; run `npm run build` in the tsmesh checkout first\n');
  process.exit(1);
}
await import(entry.href);
