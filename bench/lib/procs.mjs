// Child processes of the benchmark: spawn, wait until a port answers, read CPU and memory from /proc, stop all.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const live = new Set();
const tempDirs = new Set();

// Every process the benchmark starts goes through here, so that one cleanup stops them all.
export function startProcess(name, command, args, options = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = [];
  const events = [];
  const waiters = new Set();
  const remember = (line) => {
    tail.push(line);
    if (tail.length > 60) tail.shift();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    remember(line);
    if (!line.startsWith('{')) return;
    try {
      const event = JSON.parse(line);
      events.push(event);
      if (events.length > 200) events.shift();
      for (const w of waiters) if (w.predicate(event)) w.resolve(event);
    } catch {
      // not an event
    }
  });
  createInterface({ input: child.stderr }).on('line', remember);
  let exitCode;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      live.delete(handle);
      resolve(exitCode);
    }),
  );
  const output = () => tail.join('\n');
  const handle = {
    name,
    child,
    pid: child.pid,
    exited,
    output,
    get running() {
      return exitCode === undefined;
    },
    waitForEvent(predicate, timeoutMs = 30_000) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          predicate,
          resolve: (e) => {
            cleanup();
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no matching event within ${timeoutMs} ms; output:\n${output()}`));
        }, timeoutMs);
        const onExit = (code) => {
          cleanup();
          reject(new Error(`${name} exited (${code}) early; output:\n${output()}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(w);
          child.off('exit', onExit);
        };
        waiters.add(w);
        child.once('exit', onExit);
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (exitCode !== undefined) return exitCode;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          // gone
        }
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  live.add(handle);
  return handle;
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `tsmesh-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export async function stopAll() {
  await Promise.all([...live].map((p) => p.stop()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Last resort on a synchronous exit path: no awaiting possible.
export function killAllSync() {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, proc, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && !proc.running) throw new Error(`${proc.name} exited before listening on ${port}; output:\n${proc.output()}`);
    const ok = await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms${proc ? `; ${proc.name} output:\n${proc.output()}` : ''}`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// utime and stime of one process, in seconds.
export function cpuTimes(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
  } catch {
    return { user: NaN, system: NaN };
  }
}

// utime + stime of one process, in seconds.
export function cpuSeconds(pid) {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

// VmRSS and VmHWM in MiB.
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}

// VmRSS split into anonymous and file-backed pages, and VmHWM, in bytes (file-backed pages are mostly
// the node binary's own code and data, shared with every other node process on the host).
export function memoryDetail(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
  } catch {
    return { rss: NaN, anon: NaN, file: NaN, hwm: NaN };
  }
}

// Every TCP 4-tuple on this host (network namespace) that has `port` at one end, in any state
// including TIME_WAIT, keyed by the other end's port: a connection opened and closed between two
// reads still shows as TIME_WAIT for 60 s, so short-lived connections are counted too.
export function connectionsTo(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const found = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const cols = lines[i].trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = cols[1];
      const remote = cols[2];
      const state = cols[3];
      if (state === '0A') continue; // LISTEN
      const lp = local.slice(local.lastIndexOf(':') + 1);
      const rp = remote.slice(remote.lastIndexOf(':') + 1);
      // Each loopback connection appears twice (both ends); key by the client's ephemeral port.
      if (lp === hex) found.add(rp);
      else if (rp === hex) found.add(lp);
    }
  }
  return found;
}

// One GET through a proxy on loopback with the Host it routes by (fetch() may not set Host; node:http does).
export function httpGet(port, host, path = '/', timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from 127.0.0.1:${port} (Host ${host}) within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

// Every process started here stops on every way out: normal exit, Ctrl-C, SIGTERM. Returns the cleanup to await.
export function stopOnExit(log, onSignal = () => undefined) {
  let cleaning;
  const cleanup = () => (cleaning ??= stopAll());
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      onSignal();
      log(`${signal}: stopping everything`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return cleanup;
}

// npm run build's steps in a checkout (this one, or a tree ab.mjs built from another revision), with that tree's
// tools: tsc -b, then the sidecar's bundle where the tree has one (revisions before it ran tsc's output).
export function buildWorkspaces(root) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -b failed in ${root}; fix the build first (or --no-build to use what is in dist/)`);
  const bundle = join(root, 'sidecar', 'scripts', 'bundle.mjs');
  if (!existsSync(bundle)) return;
  const b = spawnSync(process.execPath, [bundle], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error(`the sidecar bundle failed in ${root}; fix the build first (or --no-build to use what is in dist/)`);
}

// A script's main: on success stop everything and exit 0; on failure say why, stop everything and exit 1.
export function runMain(main, cleanup, log) {
  main().then(
    async () => {
      await cleanup();
      // A script may set process.exitCode to report a failed check after a complete run.
      process.exit(process.exitCode ?? 0);
    },
    async (error) => {
      log(`failed: ${error.stack ?? error}`);
      await cleanup();
      process.exit(1);
    },
  );
}

// A script's flags: --help prints the usage and exits 0, a bad flag prints why and the usage and exits 2.
export function parseCli(options, usage) {
  let values;
  try {
    values = parseArgs({ strict: true, options: { ...options, help: { type: 'boolean', default: false } } }).values;
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values;
}
