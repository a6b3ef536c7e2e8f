// Test harness for "pods": network namespaces on a bridge in a namespace of their own, processes inside them, captures on the bridge.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { spawnManaged, type ManagedProcess } from '../examples/src/processes.js';
import { readTcpSegments, type TcpSegment } from './pcap.js';

export interface Pod {
  name: string;
  ns: string;
  ip: string;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Capture {
  file: string;
  // Stops tcpdump once the file has stopped growing and returns every TCP segment it saw.
  stop(): Promise<TcpSegment[]>;
}

export interface PodNetwork {
  // The namespace that holds the bridge; its address is every pod's neighbour, e.g. for a control plane.
  host: Pod;
  pods: Pod[];
  bridge: string;
  pod(name: string): Pod;
  exec(ns: string, args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  spawn(ns: string, name: string, args: string[], options?: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; logDir?: string }): ManagedProcess;
  capture(file: string): Promise<Capture>;
  teardown(): Promise<void>;
}

const PREFIX = 'tsmt';

function toolMissing(command: string, args: string[], pkg: string): string | undefined {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return result.error ? `${command} is not installed (Debian: ${pkg})` : undefined;
}

// Why these tests cannot run here, or undefined when they can.
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux-only';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces and nat rules';
  return (
    toolMissing('ip', ['-V'], 'iproute2') ??
    toolMissing('iptables-save', ['--version'], 'iptables') ??
    toolMissing('tcpdump', ['--version'], 'tcpdump') ??
    toolMissing('setpriv', ['--version'], 'util-linux')
  );
}

// Never rejects: the exit code, stdout and stderr of one command, killed after the timeout.
export function run(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs ?? 20_000} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    child.on('error', (error) => (stderr += error.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(args: string[]): Promise<string> {
  const result = await run('ip', args);
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

function killNamespacePids(ns: string): void {
  const listed = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (listed.stdout ?? '').split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function deleteNamespaces(names: string[]): void {
  // Processes hold a namespace's links alive after `ip netns del`, so they go first.
  for (const ns of names) killNamespacePids(ns);
  for (const ns of names) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Namespaces of earlier runs whose test process is gone (killed before its teardown) are removed.
export function cleanStaleNetworks(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  const stale = (listed.stdout ?? '')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => {
      const owner = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
      return owner !== null && Number(owner[1]) !== process.pid && !pidAlive(Number(owner[1]));
    });
  deleteNamespaces(stale);
  return stale;
}

// Builds `<prefix>-host` with a bridge at .1 and one namespace per pod at .2, .3, ... on a veth whose pod end is eth0.
// Names carry this process's pid, so parallel runs never collide and a later run can tell what is stale.
export async function createPodNetwork(podNames: string[]): Promise<PodNetwork> {
  cleanStaleNetworks();
  const tag = `${PREFIX}${process.pid}`;
  const subnet = `10.251.${process.pid % 250}`;
  const host: Pod = { name: 'host', ns: `${tag}-host`, ip: `${subnet}.1` };
  const pods = podNames.map((name, index): Pod => ({ name, ns: `${tag}-${name}`, ip: `${subnet}.${index + 2}` }));
  const bridge = `${tag}br`;
  const created: string[] = [];
  const processes: ManagedProcess[] = [];
  const captures: Array<() => Promise<unknown>> = [];

  const network: PodNetwork = {
    host,
    pods,
    bridge,
    pod(name) {
      const found = pods.find((pod) => pod.name === name);
      if (!found) throw new Error(`no pod named ${name}`);
      return found;
    },
    exec: (ns, args, options) => run('ip', ['netns', 'exec', ns, ...args], options),
    spawn(ns, name, args, options = {}) {
      // `ip netns exec` needs root, so the uid/gid are dropped after entering the namespace, and setpriv execs in place.
      const drop = options.uid === undefined ? [] : ['setpriv', `--reuid=${options.uid}`, `--regid=${options.gid ?? options.uid}`, '--clear-groups', '--'];
      const managed = spawnManaged(name, 'ip', ['netns', 'exec', ns, ...drop, ...args], { env: options.env, logDir: options.logDir });
      processes.push(managed);
      return managed;
    },
    async capture(file) {
      const tcpdump = network.spawn(host.ns, 'tcpdump', ['tcpdump', '-i', bridge, '-n', '-s', '0', '-U', '--immediate-mode', '-Z', 'root', '-w', file, 'tcp']);
      await waitForLine(tcpdump, /listening on/, 10_000);
      let segments: Promise<TcpSegment[]> | undefined;
      const stop = (): Promise<TcpSegment[]> => {
        segments ??= (async () => {
          await settle(file);
          const code = await tcpdump.stop('SIGINT', 3_000);
          if (!existsSync(file)) throw new Error(`tcpdump wrote no ${file} (exit ${code}): ${tcpdump.output()}`);
          return readTcpSegments(file);
        })();
        return segments;
      };
      captures.push(() => stop().catch(() => []));
      return { file, stop };
    },
    async teardown() {
      await Promise.all(captures.map((stop) => stop()));
      await Promise.all(processes.map((managed) => managed.stop('SIGTERM', 3_000)));
      // Pods first: their veth ends go with them, then the bridge with the host namespace.
      deleteNamespaces([...created].reverse());
      const left = created.filter((ns) => existsSync(`/run/netns/${ns}`));
      if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
    },
  };

  try {
    for (const ns of [host.ns, ...pods.map((pod) => pod.ns)]) {
      await must(['netns', 'add', ns]);
      created.push(ns);
      // Redirected traffic lands on 127.0.0.1, so loopback must be up.
      await must(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must(['-n', host.ns, 'link', 'add', bridge, 'type', 'bridge']);
    await must(['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', bridge]);
    await must(['-n', host.ns, 'link', 'set', bridge, 'up']);
    for (const [index, pod] of pods.entries()) {
      const veth = `${tag}v${index}`;
      await must(['link', 'add', veth, 'netns', host.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
      await must(['-n', host.ns, 'link', 'set', veth, 'master', bridge, 'up']);
      await must(['-n', pod.ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
      await must(['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
    }
  } catch (error) {
    await network.teardown().catch(() => undefined);
    throw error;
  }
  return network;
}

function waitForLine(managed: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      if (pattern.test(managed.output())) return resolve();
      if (managed.child.exitCode !== null || Date.now() - started > timeoutMs) {
        return reject(new Error(`${managed.name} did not print ${pattern} within ${timeoutMs} ms: ${managed.output()}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

// The last frames reach tcpdump asynchronously: wait (bounded) until the file has not grown for 300 ms.
async function settle(file: string): Promise<void> {
  const size = (): number => (existsSync(file) ? statSync(file).size : -1);
  let last = size();
  let stableSince = Date.now();
  for (const deadline = Date.now() + 3_000; Date.now() < deadline && Date.now() - stableSince < 300; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = size();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
  }
}
