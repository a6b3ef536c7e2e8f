// `npm start`'s launcher comes up, serves traffic through every hop, and Ctrl-C stops everything.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../src/launcher.js';
import { spawnManaged, type ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { tempDir } from '../../test-support/control-plane.js';

const dataDir = tempDir('start');
let launcher: ManagedProcess | undefined;

afterAll(async () => {
  await launcher?.stop('SIGINT', 15_000);
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

function portOpen(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start', () => {
  it('starts the control plane, the example services and their sidecars, and shows traffic flowing', async () => {
    launcher = spawnManaged('start', process.execPath, [join(REPO_ROOT, 'examples', 'dist', 'start.js')], { env: { MESH_DATA_DIR: dataDir, MESH_DEMO_RPS: '20', MESH_STATUS_INTERVAL_MS: '300' } });
    const ready = await launcher.waitForEvent((e) => e['event'] === 'mesh-ready', 45_000);
    const proxy = String(ready['loadgenProxy']);
    const res = await callThroughProxy(proxy, 'http://shop.demo/buy?item=kettle');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ service: 'shop', order: { service: 'orders', payment: { charged: 12.5 }, reservation: { item: 'kettle' } } });
    // The live line reports successful traffic from the trickle.
    const deadline = Date.now() + 10_000;
    while (!/success 100\.0%.*total [1-9]/.test(launcher.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(launcher.output()).toMatch(/shop <- loadgen .* success 100\.0% .* total [1-9]/);
    const controlPlane = String(ready['controlPlane']);
    expect(await portOpen(controlPlane)).toBe(true);
    // The README's way: MESHCTL_CONFIG and no flags (--server only when 15012 was taken, and then printed).
    const extra = (ready['meshctlArgs'] as string[]).filter((_, i, all) => all[i] !== '--config' && all[i - 1] !== '--config');
    if (ready['meshctlDefaults'] === true) expect(extra).toEqual([]);
    const meshctl = spawnManaged('meshctl', process.execPath, [BIN.meshctl, ...extra, 'proxy-status', '-o', 'json'], { env: { MESHCTL_CONFIG: join(dataDir, 'meshctl.yaml') } });
    const chunks: Buffer[] = [];
    meshctl.child.stdout?.on('data', (d: Buffer) => chunks.push(d));
    expect(await meshctl.exited).toBe(0);
    const listed = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()));
    for (const service of ['shop', 'orders', 'payments', 'inventory', 'loadgen']) expect(listed).toContain(`sa/${service}`);
    const code = await launcher.stop('SIGINT', 15_000);
    expect(code).toBe(0);
    expect(launcher.output()).toContain('tsmesh: stopped');
    expect(await portOpen(controlPlane)).toBe(false);
  }, 70_000);
});
