// Interception for real: two network namespaces on a veth pair, the rules installed by `mesh-sidecar iptables`,
// and SO_ORIGINAL_DST read through the native addon. Root only; traffic stays inside the two namespaces.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainRules } from '../src/intercept/rules.js';
import { parseNatSave } from '../src/intercept/nat-state.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'sidecar', 'bin', 'mesh-sidecar.js');
const PROXY_UID = 1337;

function missingTool(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return result.error ? `${command} is not installed (Debian: ${command === 'ip' ? 'iproute2' : 'iptables'})` : undefined;
}

const skipReason =
  process.platform !== 'linux'
    ? 'network namespaces are Linux-only'
    : process.getuid?.() !== 0
      ? 'needs root to create network namespaces and nat rules'
      : (missingTool('ip', ['-V']) ?? missingTool('iptables-restore', ['--version']) ?? missingTool('iptables-save', ['--version']));

// Two namespaces per run, named and addressed by pid so that parallel runs on one machine do not collide.
const tag = `${process.pid % 100_000}`;
const nsA = `tsmesh-a-${tag}`;
const nsB = `tsmesh-b-${tag}`;
const subnet = `10.200.${process.pid % 250}`;
const addrA = `${subnet}.1`;
const addrB = `${subnet}.2`;

// Answers with the port it was reached on and, through the sidecar's own loader, where the caller was headed.
const REDIRECT_TARGET = `
import { createServer } from 'node:net';
const { loadOriginalDst } = await import(process.env.ORIGINAL_DST_MODULE);
const reader = loadOriginalDst();
const ports = process.argv.slice(2).map(Number);
let listening = 0;
for (const port of ports) {
  createServer((socket) => {
    const original = reader.ok ? reader.value.read(socket) : reader;
    socket.end(JSON.stringify({ via: socket.localPort, original: original.ok ? original.value : null, why: original.ok ? undefined : original.error }));
  }).listen(port, '0.0.0.0', () => { if (++listening === ports.length) process.stdout.write('listening\\n'); });
}
`;

const APP = `
import { createServer } from 'node:net';
const [host, port] = process.argv.slice(2);
createServer((socket) => socket.end(JSON.stringify({ app: host + ':' + port }))).listen(Number(port), host, () => process.stdout.write('listening\\n'));
`;

// Connects once, prints what came back; as the proxy uid when asked, to check that its traffic is not redirected.
const CLIENT = `
import { connect } from 'node:net';
const [host, port, uid] = process.argv.slice(2);
if (uid) { process.setgid(Number(uid)); process.setuid(Number(uid)); }
const socket = connect({ host, port: Number(port), timeout: 5000 });
let data = '';
socket.setEncoding('utf8').on('data', (chunk) => (data += chunk)).on('end', () => process.stdout.write(data));
socket.on('timeout', () => { process.stderr.write('timeout'); process.exit(1); });
socket.on('error', (error) => { process.stderr.write(error.message); process.exit(1); });
`;

interface Reply {
  app?: string;
  via?: number;
  original?: { address: string; port: number } | null;
  why?: string;
}

describe.skipIf(skipReason !== undefined)(`transparent interception in network namespaces${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsmesh-intercept-'));
  const children: ChildProcess[] = [];
  let addonPath: string | undefined;
  let addonWhy = '';
  let natBefore = '';

  function sh(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8', timeout: 20_000, ...(input === undefined ? {} : { input }) });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr || (result.error?.message ?? '') };
  }

  function must(args: string[]): string {
    const result = sh(args);
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    return result.stdout;
  }

  function startIn(ns: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(dir, script), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return new Promise((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`${script} in ${ns} did not start within 10 s: ${stderr}`)), 10_000);
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (!chunk.includes('listening')) return;
        clearTimeout(timer);
        resolve();
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${script} in ${ns} exited with ${code}: ${stderr}`));
      });
    });
  }

  function call(ns: string, host: string, port: number, uid?: number): Reply {
    const result = sh(['ip', 'netns', 'exec', ns, process.execPath, join(dir, 'client.mjs'), host, String(port), ...(uid === undefined ? [] : [String(uid)])]);
    if (result.status !== 0) throw new Error(`client in ${ns} -> ${host}:${port} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Reply;
  }

  function meshSidecar(ns: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    return sh(['ip', 'netns', 'exec', ns, process.execPath, bin, 'iptables', ...args]);
  }

  const tableOf = (saved: string): Record<string, string[]> => {
    const state = parseNatSave(saved);
    if (!state.ok) throw new Error(state.error);
    return Object.fromEntries(state.value.chains);
  };

  const natSave = (): string => must(['ip', 'netns', 'exec', nsA, 'iptables-save', '-t', 'nat']).replace(/^#.*\n/gm, '');

  beforeAll(async () => {
    writeFileSync(join(dir, 'redirect-target.mjs'), REDIRECT_TARGET);
    writeFileSync(join(dir, 'app.mjs'), APP);
    writeFileSync(join(dir, 'client.mjs'), CLIENT);
    const built = sh([process.execPath, join(repo, 'sidecar', 'native', 'build.mjs'), '--out', dir]);
    if (built.status === 0) addonPath = join(dir, 'original_dst.node');
    else addonWhy = built.stderr.trim().split('\n').pop() ?? 'build failed';

    must(['ip', 'netns', 'add', nsA]);
    must(['ip', 'netns', 'add', nsB]);
    must(['ip', 'link', 'add', `tsa${tag}`, 'netns', nsA, 'type', 'veth', 'peer', 'name', `tsb${tag}`, 'netns', nsB]);
    must(['ip', '-n', nsA, 'addr', 'add', `${addrA}/30`, 'dev', `tsa${tag}`]);
    must(['ip', '-n', nsB, 'addr', 'add', `${addrB}/30`, 'dev', `tsb${tag}`]);
    for (const [ns, dev] of [[nsA, `tsa${tag}`], [nsB, `tsb${tag}`]] as const) {
      must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      // REDIRECT of locally generated traffic goes to 127.0.0.1, so loopback must be up.
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const moduleUrl = pathToFileURL(join(repo, 'sidecar', 'dist', 'intercept', 'original-dst.js')).href;
    await Promise.all([
      startIn(nsA, 'redirect-target.mjs', ['15001', '15006', '15000'], { ORIGINAL_DST_MODULE: moduleUrl, MESH_ORIGINAL_DST_ADDON: addonPath ?? join(dir, 'not-built.node') }),
      startIn(nsB, 'app.mjs', [addrB, '8080']),
      // A server in A on a port the app in B calls, to see inbound traffic bypass it once the rules are in.
      startIn(nsA, 'app.mjs', [addrA, '8080']),
    ]);
    natBefore = natSave();
  }, 60_000);

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    // Deleting the namespaces also removes the veth pair and every rule installed in them.
    for (const ns of [nsA, nsB]) sh(['ip', 'netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the other namespace directly before the rules are installed', () => {
    expect(call(nsA, addrB, 8080)).toEqual({ app: `${addrB}:8080` });
    expect(call(nsB, addrA, 8080)).toEqual({ app: `${addrA}:8080` });
  });

  it('installs the rules with mesh-sidecar iptables install, twice without duplicating them', () => {
    const args = ['install', '--proxy-uid', String(PROXY_UID), '--outbound-port', '15001', '--inbound-port', '15006', '--exclude-inbound-ports', '15000'];
    for (let run = 0; run < 2; run += 1) {
      const result = meshSidecar(nsA, args);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('{"event":"iptables","action":"install","result":"installed"}\n');
    }
    const state = parseNatSave(natSave());
    expect(state.ok).toBe(true);
    if (!state.ok) return;
    expect(state.value.chains.get('PREROUTING')).toEqual(['-p tcp -j TSMESH_INBOUND']);
    expect(state.value.chains.get('OUTPUT')).toEqual(['-p tcp -j TSMESH_OUTPUT']);
    // iptables prints our rules back exactly as we wrote them, which is what makes re-install and uninstall exact.
    for (const { chain, rules } of chainRules({ proxyUid: PROXY_UID, outboundPort: 15001, inboundPort: 15006, excludeInboundPorts: [15000], excludeOutboundPorts: [], excludeOutboundCidrs: [] })) {
      expect(state.value.chains.get(chain)).toEqual(rules);
    }
  });

  it('redirects the app to the outbound port and tells where it was headed', (context) => {
    const reply = call(nsA, addrB, 8080);
    expect(reply.via).toBe(15001);
    if (addonPath === undefined) {
      expect(reply.why).toMatch(/^transparent mode unavailable: /);
      context.skip(`SO_ORIGINAL_DST addon could not be built: ${addonWhy}`);
    }
    expect(reply.original).toEqual({ address: addrB, port: 8080 });
  });

  it('lets the proxy uid through unredirected', () => {
    expect(call(nsA, addrB, 8080, PROXY_UID)).toEqual({ app: `${addrB}:8080` });
  });

  it('redirects inbound traffic to the inbound port, except the excluded admin port', (context) => {
    const inbound = call(nsB, addrA, 8080);
    expect(inbound.via).toBe(15006);
    expect(call(nsB, addrA, 15000).via).toBe(15000);
    if (addonPath === undefined) context.skip(`SO_ORIGINAL_DST addon could not be built: ${addonWhy}`);
    expect(inbound.original).toEqual({ address: addrA, port: 8080 });
    // Not redirected but tracked by conntrack: the original destination is simply the address that was dialled.
    expect(call(nsB, addrA, 15000).original).toEqual({ address: addrA, port: 15000 });
  });

  it('uninstall restores direct traffic and leaves the table as it found it', () => {
    const result = meshSidecar(nsA, ['uninstall']);
    expect(result.stdout).toBe('{"event":"iptables","action":"uninstall","result":"removed"}\n');
    expect(tableOf(natSave())).toEqual(tableOf(natBefore));
    expect(call(nsA, addrB, 8080)).toEqual({ app: `${addrB}:8080` });
    expect(call(nsB, addrA, 8080)).toEqual({ app: `${addrA}:8080` });
    expect(meshSidecar(nsA, ['uninstall']).stdout).toBe('{"event":"iptables","action":"uninstall","result":"nothing-to-remove"}\n');
  });
});
