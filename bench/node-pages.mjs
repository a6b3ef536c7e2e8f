#!/usr/bin/env node
// Which pages of the node binary a process has resident, by ELF section and by what the code belongs to (V8, ICU, OpenSSL...).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `node bench/node-pages.mjs [--bare] [PID ...]      (as root: /proc/<pid>/pagemap)

Reads which pages of the node binary each process has in memory (VmRSS counts them in every process,
though all node processes on the host share them) and attributes them to the binary's ELF sections and,
through its symbol table (nm), to V8, Node, OpenSSL, ICU, libuv and the rest. --bare adds a bare
\`node\` that has waited a second, for comparison. Needs readelf and nm (binutils).`;

const PAGE = 4096;
const MB = 1e6;

const { values: args, positionals } = parseArgs({ options: { bare: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } }, allowPositionals: true });
if (args.help || (positionals.length === 0 && !args.bare)) {
  console.log(USAGE);
  process.exit(args.help ? 0 : 2);
}
function fail(message) {
  process.stderr.write(`node-pages: ${message}\n`);
  process.exit(2);
}
const pids = positionals.map((p) => (/^\d+$/.test(p) ? Number(p) : fail(`"${p}" is not a process id (see --help)`)));
for (const pid of pids) {
  try {
    readFileSync(`/proc/${pid}/maps`);
  } catch (error) {
    fail(`cannot read /proc/${pid}/maps (${error.code}): no such process, or not yours (run as root)`);
  }
}

// What the code at an address belongs to, from its (demangled) symbol name; ICU's C functions carry its version (u_strlen_78).
const FAMILIES = [
  ['ICU', /^(icu_\d+::|icudt\d+|u[a-z0-9]*_\w+_\d+$)/],
  ['V8', /^(v8::|Builtins_|cppgc::|v8_inspector::)/],
  ['Node', /^node::/],
  ['libuv', /^uv_/],
  ['nghttp2', /^nghttp2/],
  ['OpenSSL', /^(EVP_|SSL_|ssl|tls|ossl_|OSSL_|BN_|bn_|RSA_|EC_|ec_|ecp_|X509|x509|ASN1|OPENSSL|CRYPTO_|ERR_|PEM_|OBJ_|BIO_|sha|SHA|aes|AES|gcm_|ChaCha|v3_|i2d|d2i)/],
  ['C++ standard library', /^std::/],
];

function familyOf(symbol) {
  const name = symbol.replace(/^(construction vtable|vtable|typeinfo name|typeinfo|VTT|guard variable) for /, '');
  return FAMILIES.find(([, pattern]) => pattern.test(name))?.[0] ?? 'other';
}

function run(command, argv) {
  try {
    return execFileSync(command, argv, { encoding: 'utf8', maxBuffer: 1 << 30 });
  } catch (error) {
    return fail(error.code === 'ENOENT' ? `${command} is not installed: apt-get install -y binutils` : `${command} ${argv.join(' ')} failed: ${error.message}`);
  }
}

function binaryLayout(binary) {
  const sections = [];
  for (const line of run('readelf', ['-SW', binary]).split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m && Number.parseInt(m[2], 16) !== 0) sections.push({ name: m[1], offset: Number.parseInt(m[3], 16), size: Number.parseInt(m[4], 16), address: Number.parseInt(m[2], 16) });
  }
  const symbols = [];
  for (const line of run('nm', ['-S', '--defined-only', '-C', binary]).split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) \S (.*)$/.exec(line);
    if (m) symbols.push({ address: Number.parseInt(m[1], 16), size: Number.parseInt(m[2], 16), name: m[3] });
  }
  symbols.sort((a, b) => a.address - b.address);
  return { sections, symbols };
}

function symbolAt(symbols, address) {
  let lo = 0;
  let hi = symbols.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (symbols[mid].address <= address) lo = mid + 1;
    else hi = mid - 1;
  }
  const s = symbols[hi];
  return s && address < s.address + Math.max(s.size, PAGE) ? s : undefined;
}

// File offsets of the binary's pages that are resident in the process (pagemap bit 63: present).
function residentOffsets(pid, binary) {
  const offsets = [];
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const parts = line.trim().split(/\s+/);
      if (parts[5] !== binary) continue;
      const [start, end] = parts[0].split('-').map((x) => Number.parseInt(x, 16));
      const fileOffset = Number.parseInt(parts[2], 16);
      const pages = (end - start) / PAGE;
      const entries = Buffer.alloc(pages * 8);
      readSync(fd, entries, 0, entries.length, (start / PAGE) * 8);
      for (let i = 0; i < pages; i++) if (entries.readBigUInt64LE(i * 8) >> 63n) offsets.push(fileOffset + i * PAGE);
    }
  } finally {
    closeSync(fd);
  }
  return offsets;
}

function attribute(offsets, layout) {
  const bySection = new Map();
  const byFamily = new Map();
  for (const offset of offsets) {
    const section = layout.sections.find((s) => offset >= s.offset && offset < s.offset + s.size);
    const name = section?.name ?? '(no section)';
    bySection.set(name, (bySection.get(name) ?? 0) + PAGE);
    if (section && ['.text', '.rodata', '.data.rel.ro'].includes(name)) {
      const symbol = symbolAt(layout.symbols, section.address + (offset - section.offset));
      const key = `${name} ${symbol ? familyOf(symbol.name) : '(no symbol)'}`;
      byFamily.set(key, (byFamily.get(key) ?? 0) + PAGE);
    }
  }
  return { total: offsets.length * PAGE, bySection, byFamily };
}

async function bareNode() {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return child;
}

const binary = realpathSync(process.execPath);
const layout = binaryLayout(binary);
const columns = [];
let bare;
try {
  if (args.bare) {
    bare = await bareNode();
    columns.push({ label: `bare node (${bare.pid})`, ...attribute(residentOffsets(bare.pid, binary), layout) });
  }
  for (const pid of pids) {
    const offsets = residentOffsets(pid, binary);
    if (offsets.length === 0) fail(`process ${pid} has no pages of ${binary} mapped: it is not running this node binary`);
    columns.push({ label: `pid ${pid}`, ...attribute(offsets, layout) });
  }
} finally {
  bare?.kill();
}

const mb = (bytes) => (bytes / MB).toFixed(1);
const rows = (key) => [...new Set(columns.flatMap((c) => [...c[key].keys()]))].sort((a, b) => Math.max(...columns.map((c) => c[key].get(b) ?? 0)) - Math.max(...columns.map((c) => c[key].get(a) ?? 0)));
console.log(`Resident pages of ${binary}, MB (10^6 bytes)\n`);
console.log(`| | ${columns.map((c) => c.label).join(' | ')} |`);
console.log(`| --- | ${columns.map(() => '---:').join(' | ')} |`);
console.log(`| **all** | ${columns.map((c) => `**${mb(c.total)}**`).join(' | ')} |`);
for (const key of ['bySection', 'byFamily']) {
  for (const row of rows(key)) {
    if (Math.max(...columns.map((c) => c[key].get(row) ?? 0)) < 0.05 * MB) continue;
    console.log(`| ${key === 'bySection' ? `section ${row}` : `in ${row.replace(' ', ': ')}`} | ${columns.map((c) => mb(c[key].get(row) ?? 0)).join(' | ')} |`);
  }
}
