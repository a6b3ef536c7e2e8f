// `mesh-sidecar iptables` as a process and as a function: print, help, usage errors, and a missing iptables.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runIptablesCommand } from '../src/intercept/apply.js';
import { loadOriginalDst, socketFd } from '../src/intercept/original-dst.js';

const bin = fileURLToPath(new URL('../bin/mesh-sidecar.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsmesh-intercept-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function meshSidecar(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function capture(argv: string[], tools?: Parameters<typeof runIptablesCommand>[2]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runIptablesCommand(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) }, tools);
  return { code, stdout, stderr };
}

describe('mesh-sidecar iptables', () => {
  it('prints the install script for the init container arguments, without root', () => {
    const result = meshSidecar(['iptables', 'print', '--proxy-uid', '1337', '--outbound-port', '15001', '--inbound-port', '15006', '--exclude-inbound-ports', '15000', '--exclude-outbound-cidrs', '10.96.0.0/12']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^\*nat\n:TSMESH_INBOUND - \[0:0\]\n/);
    expect(result.stdout).toContain('-A TSMESH_OUTPUT -d 10.96.0.0/12 -j RETURN\n');
    expect(result.stdout).toMatch(/-A OUTPUT -p tcp -j TSMESH_OUTPUT\nCOMMIT\n$/);
  });

  it('shows its own help, and exits 2 on a usage error naming the flag', () => {
    const help = meshSidecar(['iptables', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: mesh-sidecar iptables install|uninstall|print');
    const bad = meshSidecar(['iptables', 'install', '--outbound-port', '15006']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('mesh-sidecar: --outbound-port and --inbound-port are both 15006; they must differ\n');
  });

  it('says which package to install when iptables is missing', async () => {
    const tools = { save: join(dir, 'no-iptables-save'), restore: join(dir, 'no-iptables-restore'), timeoutMs: 5_000 };
    const result = await capture(['install'], tools);
    expect(result).toEqual({ code: 1, stdout: '', stderr: `mesh-sidecar: iptables install failed: ${tools.save} not found: install the iptables package (apt-get install iptables)\n` });
  });

  it('reports iptables-restore failures with its message', async () => {
    const fake = join(dir, 'fake-restore.sh');
    writeFileSync(fake, '#!/bin/sh\ncat >/dev/null\necho "iptables-restore: line 2 failed" >&2\nexit 1\n', { mode: 0o755 });
    const save = join(dir, 'fake-save.sh');
    writeFileSync(save, '#!/bin/sh\nprintf "*nat\\n:PREROUTING ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n"\n', { mode: 0o755 });
    const result = await capture(['install'], { save, restore: fake, timeoutMs: 5_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mesh-sidecar: iptables install failed: .*fake-restore\.sh --noflush exited with 1.*: iptables-restore: line 2 failed\n$/);
  });
});

describe('loadOriginalDst', () => {
  it('says transparent mode is unavailable, and why, when the addon is not built', () => {
    const missing = join(dir, 'original_dst.node');
    expect(loadOriginalDst(missing)).toEqual({ ok: false, error: `transparent mode unavailable: the SO_ORIGINAL_DST addon is not built (${missing} is missing; run node sidecar/native/build.mjs)` });
  });

  it('says so when the file is not a loadable addon', () => {
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'not an ELF file');
    const result = loadOriginalDst(broken);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(new RegExp(`^transparent mode unavailable: cannot load ${broken}: `));
  });

  it('finds the file descriptor of a connected TCP socket (Node-internal _handle.fd)', async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const socket: Socket = await new Promise((resolve, reject) => {
      const client = connect(address.port, '127.0.0.1', () => resolve(client)).on('error', reject);
    });
    expect(socketFd(socket)).toBeGreaterThan(2);
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
