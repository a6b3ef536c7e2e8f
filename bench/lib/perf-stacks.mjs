// Reads `perf script -F ip,sym,dso` call stacks of one process: CPU by kind of work, JavaScript by owner and function, folded stacks.

// Each sample goes to the first bucket its stack meets from the top (the frame that was running) down.
// The kernel's and the allocator's work is named by the frames that enter it; all else is "running code".
const SYSTEM_BUCKETS = [
  ['GC', ['Scavenge', 'Heap::', 'MarkCompact', 'ConcurrentMarking', 'ArrayBufferSweeper', 'GCTracer', 'MemoryAllocator', 'MinorMarkCompact']],
  ['TLS crypto', ['aesni', 'gcm_', '_gcm', 'SSL_', 'ssl3_', 'tls1_', 'tls_', 'EVP_', 'CRYPTO_', 'BIO_', 'chacha', 'poly1305']],
  ['write system calls (kernel included)', ['__libc_write', '__GI___libc_write', 'writev', '__send', 'sendmsg', 'sendto']],
  ['read system calls (kernel included)', ['__libc_read', '__GI___libc_read', 'readv', '__recv', 'recvmsg', 'recvfrom']],
  ['waiting in epoll (kernel included)', ['epoll_wait', 'epoll_pwait']],
  ['malloc / free', ['malloc', '_int_free', 'cfree', 'realloc', 'unlink_chunk', 'calloc']],
  // V8 compiling: TurboFan on its background thread, or the main thread's baseline and bytecode compilers.
  ['JIT compilation', ['OptimizingCompileDispatcher', 'compiler::', 'Compiler::', 'baseline::', 'maglev::']],
];

export const RUNNING_BUCKETS = ['the proxy\'s own JavaScript', 'Node\'s JavaScript (node:*)', 'dependencies (node_modules)', 'native, no JavaScript frame'];

const IP_SYM_DSO = /^\s*([0-9a-f]+)\s+(.*?)(?:\s+\(([^()]*)\))?\s*$/;

// One frame: the symbol (or "[unknown]") and the object it lives in.
function parseFrame(line) {
  const m = IP_SYM_DSO.exec(line);
  if (!m) return { sym: line.trim(), dso: '' };
  return { sym: m[2] === '' ? '[unknown]' : m[2], dso: m[3] ?? '' };
}

// perf script prints one block per sample: a header line unless -F omits it, then its frames, top first.
export function parseSamples(text) {
  const samples = [];
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block
      .split('\n')
      .filter((line) => /^\s*[0-9a-f]+\s/.test(line))
      .map(parseFrame);
    if (frames.length > 0) samples.push(frames);
  }
  return samples;
}

const isJs = (frame) => frame.sym.startsWith('JS:');

// "JS:*name file:///root/sidecar/dist/x.js:1:2" -> { name, file: 'sidecar/dist/x.js', line }
export function jsFrame(sym, repoRoot) {
  const body = sym.replace(/^JS:[*~^+-]?/, '');
  const space = body.lastIndexOf(' ');
  const name = space >= 0 ? body.slice(0, space) || '(anonymous)' : '(anonymous)';
  let where = space >= 0 ? body.slice(space + 1) : body;
  where = where.replace(/^file:\/\//, '');
  if (repoRoot && where.startsWith(`${repoRoot}/`)) where = where.slice(repoRoot.length + 1);
  const m = /^(.*?):(\d+):\d+$/.exec(where);
  return { name: name === '' ? '(anonymous)' : name, file: m ? m[1] : where, line: m ? Number(m[2]) : 0 };
}

function ownerOf(file) {
  if (file.startsWith('node:')) return RUNNING_BUCKETS[1];
  if (file.includes('node_modules/')) return RUNNING_BUCKETS[2];
  return RUNNING_BUCKETS[0];
}

function systemBucket(frames) {
  for (const frame of frames) {
    // The first JavaScript frame from the top ends the search: the work above it is that code's own.
    if (isJs(frame)) return undefined;
    for (const [name, patterns] of SYSTEM_BUCKETS) if (patterns.some((p) => frame.sym.includes(p))) return name;
  }
  return undefined;
}

// A dependency's name from its path: "node_modules/@scope/pkg/..." -> "@scope/pkg".
function packageOf(file) {
  const rest = file.slice(file.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

// Where the samples went. Every figure is a count of samples; the caller turns counts into time.
export function analyse(samples, repoRoot) {
  const buckets = new Map();
  const selfFunctions = new Map();
  const selfFiles = new Map();
  const inclusive = new Map();
  const add = (map, key, n = 1) => map.set(key, (map.get(key) ?? 0) + n);
  for (const frames of samples) {
    const seen = new Set();
    for (const frame of frames) {
      if (!isJs(frame)) continue;
      const f = jsFrame(frame.sym, repoRoot);
      const key = `${f.name} ${f.file}:${f.line}`;
      if (!seen.has(key)) {
        seen.add(key);
        add(inclusive, key);
      }
    }
    const system = systemBucket(frames);
    if (system !== undefined) {
      add(buckets, system);
      continue;
    }
    const top = frames.find(isJs);
    if (top === undefined) {
      add(buckets, RUNNING_BUCKETS[3]);
      continue;
    }
    const f = jsFrame(top.sym, repoRoot);
    const owner = ownerOf(f.file);
    add(buckets, owner);
    add(selfFunctions, `${f.name} ${f.file}:${f.line}`);
    add(selfFiles, owner === RUNNING_BUCKETS[2] ? `node_modules: ${packageOf(f.file)}` : f.file);
  }
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]);
  return { samples: samples.length, buckets: sorted(buckets), selfFunctions: sorted(selfFunctions), selfFiles: sorted(selfFiles), inclusive: sorted(inclusive) };
}

// Brendan Gregg's folded format (root first, ";"-joined, then the count): flamegraph.pl, inferno and speedscope read it.
export function foldStacks(samples, repoRoot) {
  const counts = new Map();
  for (const frames of samples) {
    const names = frames
      .map((frame) => {
        if (!isJs(frame)) return frame.dso.includes('kernel') ? `${frame.sym}_[k]` : frame.sym;
        const f = jsFrame(frame.sym, repoRoot);
        return `${f.name} ${f.file}:${f.line}`;
      })
      .reverse()
      .map((name) => name.replace(/;/g, ':'));
    const key = names.join(';');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].map(([stack, n]) => `${stack} ${n}`).join('\n') + '\n';
}
