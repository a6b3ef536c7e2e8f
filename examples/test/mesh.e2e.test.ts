// The mesh as users run it: the real binaries as processes, example apps talking through their sidecars.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, startExampleService, startSidecarProcess, BIN, type ControlPlaneHandle, type MeshedService } from '../src/launcher.js';
import { spawnManaged, freePort, type ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { tempDir, eventually } from '../../test-support/control-plane.js';

let dataDir: string;
let cp: ControlPlaneHandle;
const services = new Map<string, MeshedService>();
const extra: ManagedProcess[] = [];
let loadgen: { process: ManagedProcess; outboundPort: number; adminPort: number };

async function certs(adminPort: number): Promise<{ spiffeId: string; rotations: number; chain: Array<{ spiffeIds: string[]; notBefore: string; notAfter: string; serialNumber: string }> }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/certs`);
  return (await res.json()) as never;
}

function meshctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnManaged('meshctl', process.execPath, [BIN.meshctl, '--config', join(dataDir, 'meshctl.yaml'), '--server', cp.address, ...args]);
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.child.stdout?.on('data', (d: Buffer) => stdout.push(d.toString()));
  proc.child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  return proc.exited.then((code) => ({ code, stdout: stdout.join(''), stderr: stderr.join('') }));
}

beforeAll(async () => {
  dataDir = tempDir('e2e');
  cp = await startControlPlane(dataDir, { logDir: join(dataDir, 'logs') });
  for (const name of ['payments', 'inventory', 'orders'] as const) {
    services.set(name, await startExampleService(name, cp, dataDir, join(dataDir, 'logs')));
  }
  loadgen = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'loadgen', logDir: join(dataDir, 'logs') });
}, 60_000);

afterAll(async () => {
  await Promise.all([...services.values()].map((s) => s.stop()));
  await Promise.all(extra.map((p) => p.stop()));
  await loadgen?.process.stop();
  await cp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

const proxy = (): string => `http://127.0.0.1:${loadgen.outboundPort}`;

describe('a mesh of real processes', () => {
  it('carries a request from loadgen to orders, and orders to payments and inventory, through both sidecars', async () => {
    const res = await callThroughProxy(proxy(), 'http://orders.demo/orders', { body: { item: 'teapot' } });
    expect(res.status).toBe(201);
    const body = JSON.parse(res.body) as { caller: string; payment: { caller: string }; reservation: { caller: string } };
    // Each app learns its caller from the identity its sidecar verified.
    expect(body.caller).toBe('spiffe://cluster.local/ns/demo/sa/loadgen');
    expect(body.payment.caller).toBe('spiffe://cluster.local/ns/demo/sa/orders');
    expect(body.reservation.caller).toBe('spiffe://cluster.local/ns/demo/sa/orders');
  });

  it('gives every sidecar a certificate with its SPIFFE ID and a 24 h lifetime', async () => {
    for (const [name, service] of services) {
      const info = await certs(service.adminPort);
      const leaf = info.chain[0]!;
      expect(leaf.spiffeIds).toEqual([`spiffe://cluster.local/ns/demo/sa/${name}`]);
      const lifetimeH = (Date.parse(leaf.notAfter) - Date.now()) / 3600_000;
      expect(lifetimeH).toBeGreaterThan(23.9);
      expect(lifetimeH).toBeLessThanOrEqual(24);
    }
  });

  it('refuses with 502 MESH_ERR_TLS_IDENTITY when an endpoint presents another identity', async () => {
    // "ledger" advertises the inbound address of inventory's sidecar, which proves inventory's identity.
    const ledger = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'ledger', appPort: 9, extraArgs: ['--advertise-address', `127.0.0.1:${services.get('inventory')!.inboundPort}`] });
    extra.push(ledger.process);
    const res = await callThroughProxy(proxy(), 'http://ledger.demo/anything');
    expect(res.status).toBe(502);
    expect(res.headers['x-mesh-error']).toBe('MESH_ERR_TLS_IDENTITY');
    expect(String(res.headers['x-mesh-reason'])).toContain('spiffe://cluster.local/ns/demo/sa/ledger');
  });

  it('answers an unknown service with 503 and a reason', async () => {
    const res = await callThroughProxy(proxy(), 'http://nowhere.demo/');
    expect(res.status).toBe(503);
    expect(res.headers['x-mesh-error']).toBe('MESH_ERR_NO_ROUTE');
  });

  it('rotates certificates under steady traffic without losing a request', async () => {
    const fastPayments = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'ledger2', serviceAccount: 'payments-fast', appPort: services.get('payments')!.appPort!, extraArgs: ['--cert-ttl', '4s'] });
    const fastClient = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'client-fast', extraArgs: ['--cert-ttl', '4s'] });
    extra.push(fastPayments.process, fastClient.process);
    const before = (await certs(fastPayments.adminPort)).chain[0]!.serialNumber;
    const failures: string[] = [];
    let sent = 0;
    const deadline = Date.now() + 6_000;
    // Four steady callers; each rotation happens while requests are in flight.
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (Date.now() < deadline) {
        sent++;
        const res = await callThroughProxy(`http://127.0.0.1:${fastClient.outboundPort}`, 'http://ledger2.demo/charge', { body: { amount: 1 } }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
        if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
      }
    }));
    const after = await certs(fastPayments.adminPort);
    const client = await certs(fastClient.adminPort);
    expect(after.rotations).toBeGreaterThanOrEqual(1);
    expect(client.rotations).toBeGreaterThanOrEqual(1);
    expect(after.chain[0]!.serialNumber).not.toBe(before);
    expect(sent).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  }, 30_000);

  it('answers every request after a sidecar was paused for 1.5 s under traffic: no shedding of the backlog, no open circuit', async () => {
    // A pause past the 1 s event-loop limit, as a long GC or a CPU-throttled container makes one.
    const payments = services.get('payments')!;
    const failures: string[] = [];
    let answered = 0;
    let stop = false;
    const callers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const res = await callThroughProxy(proxy(), 'http://payments.demo/charge', { body: { amount: 1 } }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
        answered++;
        if (res.status !== 200) failures.push(`${res.status} ${String(res.headers['x-mesh-error' as never] ?? '')} ${res.body.slice(0, 200)}`);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    payments.sidecar.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    payments.sidecar.child.kill('SIGCONT');
    const answeredAtResume = answered;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stop = true;
    await Promise.all(callers);
    expect(answered - answeredAtResume).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    expect(payments.sidecar.output()).not.toContain('load shedding started');
  }, 20_000);

  it('keeps traffic flowing while the control plane is down, and the sidecars reconnect when it returns', async () => {
    // Sidecars keep what they have learned; warm every hop up before the control plane goes.
    expect((await callThroughProxy(proxy(), 'http://orders.demo/orders', { body: { item: 'warm' } })).status).toBe(201);
    const address = cp.address;
    await cp.process.stop();
    for (let i = 0; i < 20; i++) {
      const res = await callThroughProxy(proxy(), 'http://orders.demo/orders', { body: { item: `cp-down-${i}` } });
      expect(res.status, `${res.body}\n${services.get('orders')!.sidecar.output()}`).toBe(201);
    }
    const port = Number(address.split(':')[1]);
    cp = await startControlPlane(dataDir, { port, logDir: join(dataDir, 'logs') });
    const status = await eventually('every sidecar back in proxy-status', async () => {
      const result = await meshctl(['proxy-status', '-o', 'json']);
      if (process.env['DEBUG_E2E']) process.stderr.write(`proxy-status: ${result.code} ${result.stdout.slice(0, 4000)} ${result.stderr}\n`);
      const rows = JSON.parse(result.stdout || '[]') as Array<{ service: string; types: Record<string, { state: string }> }>;
      const names = rows.map((r) => r.service);
      const all = ['payments.demo', 'inventory.demo', 'orders.demo', 'loadgen.demo'].every((n) => names.includes(n));
      return all && rows.every((r) => Object.values(r.types).every((t) => t.state === 'SYNCED')) ? rows : undefined;
    }, 15_000);
    expect(status.length).toBeGreaterThanOrEqual(4);
    const res = await callThroughProxy(proxy(), 'http://orders.demo/orders', { body: { item: 'after' } });
    expect(res.status, `${res.body}\n${services.get('orders')!.sidecar.output()}`).toBe(201);
  }, 40_000);

  it('meshctl prints a table, mints tokens, and exits 2 on bad usage and 3 when the control plane is unreachable', async () => {
    const table = await meshctl(['proxy-status']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NODE\s+SERVICE\s+IDENTITY\s+STATUS/);
    expect(table.stdout).toContain('SYNCED');
    const token = await meshctl(['token', 'create', '--namespace', 'demo', '--service-account', 'web', '--ttl', '1m', '-o', 'json']);
    expect(token.code).toBe(0);
    expect(JSON.parse(token.stdout)).toMatchObject({ spiffeId: 'spiffe://cluster.local/ns/demo/sa/web' });
    const bad = await meshctl(['token', 'create', '--namespace', 'Demo!', '--service-account', 'web']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a DNS-1123 label');
    const closedPort = await freePort();
    const unreachable = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawnManaged('meshctl', process.execPath, [BIN.meshctl, '--config', join(dataDir, 'meshctl.yaml'), '--server', `127.0.0.1:${closedPort}`, 'proxy-status']);
      const err: string[] = [];
      proc.child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
      void proc.exited.then((code) => resolve({ code, stderr: err.join('') }));
    });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the control plane');
  }, 30_000);
});
