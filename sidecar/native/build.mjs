#!/usr/bin/env node
// Builds the SO_ORIGINAL_DST addon with node-gyp: `node sidecar/native/build.mjs [--out DIR] [--optional]`.
// npm install runs it with --optional: a machine without a compiler must still install, so a failed build there
// only says why; the sidecar then reports "transparent mode unavailable" and stays in explicit mode.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string' }, optional: { type: 'boolean' } } });
const out = resolve(values.out ?? join(here, 'build', 'Release'));

function fail(message) {
  if (values.optional) {
    process.stderr.write(`build-native: the SO_ORIGINAL_DST addon was not built (${message}); transparent mode stays unavailable until 'npm run build:native -w sidecar' succeeds\n`);
    process.exit(0);
  }
  process.stderr.write(`build-native: ${message}\n`);
  process.exit(1);
}

// npm exports npm_config_node_gyp to scripts; otherwise use the node-gyp bundled with the npm beside this node.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((path) => path && existsSync(path));
}

// Local headers (npm's nodedir) avoid a download, which this machine's network would refuse.
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const asked = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
  const value = asked.status === 0 ? asked.stdout.trim() : '';
  if (value && value !== 'undefined' && value !== 'null') return value;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) fail('node-gyp not found (it ships with npm); set npm_config_node_gyp to its bin/node-gyp.js');
const nodeDir = findNodeDir();
// Build in a scratch copy so that parallel builds (tests) never share node-gyp's build/ folder.
const work = mkdtempSync(join(tmpdir(), 'tsmesh-native-'));
let failure;
try {
  for (const file of ['binding.gyp', 'original-dst.c']) copyFileSync(join(here, file), join(work, file));
  const args = [nodeGyp, 'rebuild', '--loglevel=warn', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const result = spawnSync(process.execPath, args, { cwd: work, stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000 });
  if (result.error) failure = `node-gyp did not run: ${result.error.message}`;
  else if (result.status !== 0) failure = `node-gyp exited with ${result.status ?? result.signal}; needs python3, make and a C compiler`;
  else {
    mkdirSync(out, { recursive: true });
    copyFileSync(join(work, 'build', 'Release', 'original_dst.node'), join(out, 'original_dst.node'));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failure) fail(failure);
process.stdout.write(`${join(out, 'original_dst.node')}\n`);
