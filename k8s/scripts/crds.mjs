#!/usr/bin/env node
// Writes k8s/crds/ from the resource schemas (build first: npx tsc -b control-plane); --check only compares.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../../control-plane/dist/k8s/crds.js';

const dir = fileURLToPath(new URL('../crds/', import.meta.url));
const files = renderCrdFiles();
const existing = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
if (process.argv.includes('--check')) {
  const stale = [...files].filter(([name, text]) => !existing.includes(name) || readFileSync(join(dir, name), 'utf8') !== text).map(([name]) => name);
  const extra = existing.filter((name) => !files.has(name));
  if (stale.length || extra.length) {
    process.stderr.write(`k8s/crds is stale (${[...stale, ...extra].join(', ')}); run npm run k8s:crds\n`);
    process.exit(1);
  }
  process.exit(0);
}
for (const name of existing) if (!files.has(name)) rmSync(join(dir, name));
for (const [name, text] of files) writeFileSync(join(dir, name), text);
process.stdout.write(`wrote ${files.size} files to k8s/crds/\n`);
