#!/usr/bin/env node
// What each module the sidecar loads costs in memory: RSS (anonymous and file-backed) and V8 heap after
// each import, cumulatively in start-up order and each alone on top of a bare node. See bench/README.md.
//   node bench/import-cost.mjs [--runs N] [--json]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';

const SELF = fileURLToPath(import.meta.url);
const dist = (path) => new URL(`../${path}`, import.meta.url).href;

// In the order mesh-sidecar meets them; third-party packages before our own code, so that "our own
// code" rows are what our modules add on top of their dependencies.
const STEPS = [
  ['node built-ins (http, http2, https, tls, net, crypto, stream)', [], async () => Promise.all(['node:http', 'node:http2', 'node:https', 'node:tls', 'node:net', 'node:crypto', 'node:stream'].map((m) => import(m)))],
  ['@grpc/grpc-js', ['@grpc/grpc-js'], () => import('@grpc/grpc-js')],
  ['@grpc/proto-loader (protobufjs)', ['@grpc/proto-loader', 'protobufjs'], () => import('@grpc/proto-loader')],
  ['node-forge', ['node-forge'], () => import('node-forge')],
  ['yaml', ['yaml'], () => import('yaml')],
  ['@sinclair/typebox/compiler', ['@sinclair/typebox'], () => import('@sinclair/typebox/compiler')],
  ['@tsmesh/proto (own code on top)', [], () => import('@tsmesh/proto')],
  ['meshProtos() (.proto reflection)', [], async () => (await import('@tsmesh/proto')).meshProtos()],
  ['@opentelemetry/{api,core,resources,sdk-trace,propagator-b3}', ['@opentelemetry/sdk-trace'], () => Promise.all(['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/resources', '@opentelemetry/sdk-trace', '@opentelemetry/propagator-b3'].map((m) => import(m)))],
  ['@opentelemetry/exporter-trace-otlp-proto', ['@opentelemetry/exporter-trace-otlp-proto'], () => import('@opentelemetry/exporter-trace-otlp-proto')],
  ['@opentelemetry/exporter-trace-otlp-grpc', ['@opentelemetry/exporter-trace-otlp-grpc'], () => import('@opentelemetry/exporter-trace-otlp-grpc')],
  ['ws', ['ws'], () => import('ws')],
  ['sidecar dist (own code on top)', [], () => Promise.all([import(dist('sidecar/dist/sidecar.js')), import(dist('sidecar/dist/config.js'))])],
];

// Every package whose code the sidecar's modules load at start-up, from the scripts V8 has parsed
// (ESM and CommonJS alike).
async function loadedPackages() {
  const { Session } = await import('node:inspector');
  await import(dist('sidecar/dist/sidecar.js'));
  await import(dist('sidecar/dist/config.js'));
  const session = new Session();
  session.connect();
  const found = new Set();
  session.on('Debugger.scriptParsed', ({ params }) => {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(params.url);
    if (m) found.add(m[1]);
  });
  await new Promise((resolve) => session.post('Debugger.enable', resolve));
  session.disconnect();
  process.stdout.write(`${JSON.stringify([...found].sort())}\n`);
}

function sample() {
  globalThis.gc();
  globalThis.gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const m = process.memoryUsage();
  return { rss: kb('VmRSS') * 1024, anon: kb('RssAnon') * 1024, file: kb('RssFile') * 1024, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

async function child(mode, only, skip) {
  const rows = [{ label: 'bare node', ...sample() }];
  for (const [i, [label, , load]] of STEPS.entries()) {
    if (mode === 'alone' && i !== only) continue;
    if (skip.has(i)) {
      rows.push({ label, skipped: true });
      continue;
    }
    await load();
    rows.push({ label, ...sample() });
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

function run(childArgs) {
  const r = spawnSync(process.execPath, ['--expose-gc', SELF, ...childArgs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child ${childArgs.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const MB = (bytes) => (bytes / 1e6).toFixed(1);
const KEYS = ['rss', 'anon', 'file', 'heapUsed', 'external'];

async function main() {
  const { values } = parseArgs({ options: { child: { type: 'string' }, step: { type: 'string' }, skip: { type: 'string', default: '' }, runs: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
  if (values.child === 'loaded') return loadedPackages();
  if (values.child) return child(values.child, Number(values.step), new Set(values.skip.split(',').filter(Boolean).map(Number)));
  const runs = Number(values.runs);
  const loaded = new Set(run(['--child', 'loaded']));
  const byTheSidecar = (i) => STEPS[i][1].every((p) => loaded.has(p));
  // Medians over fresh processes: RSS of one process differs by a few hundred kB from run to run.
  const med = (samples) => Object.fromEntries(KEYS.map((k) => [k, median(samples.map((s) => s[k]))]));
  // The chain loads only what the sidecar loads, so its last row is the sidecar's own import cost.
  const skip = STEPS.map((_, i) => i).filter((i) => !byTheSidecar(i));
  const chains = Array.from({ length: runs }, () => run(['--child', 'chain', '--skip', skip.join(',')]));
  const chain = chains[0].map((row, i) => (row.skipped ? row : { label: row.label, ...med(chains.map((c) => c[i])) }));
  const alone = STEPS.map((_, i) => {
    const pairs = Array.from({ length: runs }, () => run(['--child', 'alone', '--step', String(i)]));
    return { base: med(pairs.map((p) => p[0])), after: med(pairs.map((p) => p[1])) };
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ node: process.version, runs, loaded: [...loaded], chain, alone }, null, 2)}\n`);
    return;
  }
  const L = [];
  L.push(`Node ${process.version}; median of ${runs} fresh processes per row; MB = 10^6 bytes; after gc().`);
  L.push(`Packages the sidecar's modules load: ${[...loaded].join(', ')}.`, '');
  L.push('| step | loaded by the sidecar | RSS after | + RSS | + anon | + file | heap used after | + heap | alone: + RSS | alone: + heap |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  chain.forEach((row, i) => {
    const prev = chain.slice(0, i).findLast((r) => !r.skipped);
    const a = alone[i - 1];
    const d = (k) => (prev && !row.skipped ? MB(row[k] - prev[k]) : '—');
    const da = (k) => (a ? MB(a.after[k] - a.base[k]) : '—');
    if (row.skipped) {
      L.push(`| ${row.label} | **no** | — | — | — | — | — | — | ${da('rss')} | ${da('heapUsed')} |`);
      return;
    }
    L.push(`| ${row.label} | ${i === 0 ? '—' : byTheSidecar(i - 1) ? 'yes' : '**no**'} | ${MB(row.rss)} | ${d('rss')} | ${d('anon')} | ${d('file')} | ${MB(row.heapUsed)} | ${d('heapUsed')} | ${da('rss')} | ${da('heapUsed')} |`);
  });
  process.stdout.write(`${L.join('\n')}\n`);
}

await main();
