#!/usr/bin/env node
// Bundles the compiled sidecar (dist/bin/mesh-sidecar.js) with everything it imports into minified files: what `mesh-sidecar` runs.
// Why (docs/decisions/0021-sidecar-bundle.md): a process that loads ~530 modules keeps their sources, wrappers
// and loader records in its heap; the bundle costs ~18 MB less RSS per idle sidecar. Run after `tsc -b`.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const sidecar = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

const BUNDLE_DIR = sidecar('dist/bundle');

const problems = [];
const bundle = await rolldown({
  input: sidecar('dist/bin/mesh-sidecar.js'),
  platform: 'node',
  onLog(level, log) {
    // An import the bundler could not resolve (reported while writing) would fail at run time, far from here: fail the build instead.
    if (level === 'warn' && log.code === 'UNRESOLVED_IMPORT') problems.push(log.message);
    else if (level !== 'debug') process.stderr.write(`bundle: ${log.message}\n`);
  },
});
rmSync(BUNDLE_DIR, { recursive: true, force: true });
await bundle.write({
  dir: BUNDLE_DIR,
  format: 'esm',
  // What is imported on demand (an OTLP exporter, the iptables command) stays a chunk of its own, loaded only then.
  entryFileNames: 'mesh-sidecar.js',
  chunkFileNames: '[name]-[hash].js',
  // keepNames: error classes name themselves from new.target.name, and profiles and stacks stay readable.
  minify: { compress: true, mangle: { keepNames: true }, codegen: { removeWhitespace: true } },
  // Not loaded unless asked (node --enable-source-maps): stacks then point into tsc's output in dist/.
  sourcemap: true,
});
await bundle.close();
if (problems.length > 0) {
  // No bundle rather than one that fails when it runs.
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  process.stderr.write(`bundle: the sidecar imports what the bundler cannot find:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
// @tsmesh/proto reads its .proto files from ../protos beside its module, which is now this bundle.
rmSync(sidecar('dist/protos'), { recursive: true, force: true });
cpSync(fileURLToPath(new URL('../../proto/protos', import.meta.url)), sidecar('dist/protos'), { recursive: true });
