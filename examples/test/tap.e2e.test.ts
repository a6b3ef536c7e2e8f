// tap, stat and top end to end: an in-process control plane with its stream server, real sidecar and app processes, real traffic.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient, type MeshctlConfig } from '@tsmesh/control-plane';
import { BIN, waitForReady } from '../src/launcher.js';
import { spawnManaged, freePort, type ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { startTestControlPlane, testLogger, eventually, type TestControlPlane } from '../../test-support/control-plane.js';
import { startStreamServer, type RunningStreamServer } from '../../control-plane/src/tap/stream-server.js';
import { tapCommands } from '../../control-plane/src/cli/commands-tap.js';
import type { Io } from '../../control-plane/src/cli/commands.js';
import type { TapEvent } from '../../control-plane/src/tap/protocol.js';
import type { StatsReport } from '../../control-plane/src/tap/stats.js';

const LOADGEN_ID = 'spiffe://cluster.local/ns/demo/sa/loadgen';
let cp: TestControlPlane;
let stream: RunningStreamServer;
let admin: AdminClient;
let adminConfig: MeshctlConfig;
const processes: ManagedProcess[] = [];
let loadgenOutbound: number;

// A sidecar process pointed at the in-process control plane and its stream server.
async function startSidecar(service: string, appPort?: number, outboundPort = 0): Promise<{ outboundPort: number }> {
  const token = await admin.createJoinToken({ namespace: 'demo', serviceAccount: service, ttlSeconds: 600, maxUses: 1 });
  const args = [BIN.sidecar, 'run', '--service', service, '--namespace', 'demo', '--control-plane', cp.address, '--control-plane-stream', stream.address, '--ca-file', join(cp.dataDir, 'ca', 'trust-bundle.pem'), '--inbound-port', '0', '--outbound-port', String(outboundPort), '--admin-port', '0', ...(appPort === undefined ? [] : ['--app-port', String(appPort)])];
  const sidecar = spawnManaged(`sidecar-${service}`, process.execPath, args, { env: { MESH_TOKEN: token.token } });
  processes.push(sidecar);
  const ready = await sidecar.waitForEvent((e) => e['event'] === 'listening');
  await waitForReady(Number(ready['adminPort']), sidecar);
  return { outboundPort: Number(ready['outboundPort']) };
}

function collectingIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

const tapping = (io: { stderr: string[] }): number => io.stderr.filter((line) => line.startsWith('tapping ')).length;

async function charge(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await callThroughProxy(`http://127.0.0.1:${loadgenOutbound}`, 'http://payments.demo/charge', { body: { amount: i } });
    expect(res.status).toBe(200);
  }
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  stream = await startStreamServer({ listen: '127.0.0.1:0', ca: cp.running.ca, spiffeId: cp.controlPlaneIdentity, logger: testLogger });
  adminConfig = await cp.adminConfig();
  admin = new AdminClient(adminConfig);
  const appPort = await freePort();
  const paymentsOutbound = await freePort();
  await startSidecar('payments', appPort, paymentsOutbound);
  const app = spawnManaged('app-payments', process.execPath, [BIN.service, '--name', 'payments', '--port', String(appPort)], { env: { HTTP_PROXY: `http://127.0.0.1:${paymentsOutbound}` } });
  processes.push(app);
  await app.waitForEvent((e) => e['event'] === 'listening');
  loadgenOutbound = (await startSidecar('loadgen')).outboundPort;
  await eventually('both sidecars on the stream server', () => (stream.hub.list().length === 2 ? true : undefined), 15_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  admin?.close();
  await stream?.close();
  await cp?.cleanup();
}, 30_000);

describe('meshctl tap, stat and top against real sidecars', () => {
  it('tap shows every request at both ends with status, identities and one trace id per request, and no headers', async () => {
    const io = collectingIo();
    const stop = new AbortController();
    const running = tapCommands.tap(adminConfig, io, { namespace: 'demo', output: 'json', streamServer: stream.address }, 'payments', stop.signal);
    await eventually('both sidecars tapping', () => (tapping(io) === 2 ? true : undefined));
    await charge(20);
    await eventually('40 events (20 inbound at payments, 20 outbound at loadgen)', () => (io.stdout.length >= 40 ? true : undefined));
    stop.abort();
    expect(await running).toBe(0);
    const events = io.stdout.map((line) => JSON.parse(line) as TapEvent);
    const inbound = events.filter((e) => e.direction === 'inbound');
    const outbound = events.filter((e) => e.direction === 'outbound');
    expect(inbound).toHaveLength(20);
    expect(outbound).toHaveLength(20);
    for (const e of events) {
      expect(e).toMatchObject({ method: 'POST', path: '/charge', status: 200, source: LOADGEN_ID, destination: 'payments.demo' });
      expect(e.latencyMs).toBeGreaterThan(0);
      expect(e).not.toHaveProperty('headers');
      expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
    // The caller's sidecar and the callee's see the same request: the same trace id at both ends.
    expect(new Set(inbound.map((e) => e.traceId))).toEqual(new Set(outbound.map((e) => e.traceId)));
    await eventually('sidecars told to stop', () => (stream.hub.tapCount === 0 ? true : undefined));
  }, 30_000);

  it('stat agrees with the traffic sent: 20 requests to payments, 100% success', async () => {
    const json = collectingIo();
    expect(await tapCommands.stat(adminConfig, json, { namespace: 'demo', output: 'json', streamServer: stream.address, window: '200ms' }, 'payments')).toBe(0);
    const report = JSON.parse(json.stdout.join('')) as StatsReport;
    expect(report.sidecars).toBe(2);
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({ service: 'payments.demo', requests: 20, successRate: 1, rps: 0 });
    expect(report.rows[0]!.p50Ms).toBeGreaterThan(0);
    expect(report.rows[0]!.p99Ms).toBeGreaterThanOrEqual(report.rows[0]!.p50Ms!);
    const table = collectingIo();
    expect(await tapCommands.stat(adminConfig, table, { namespace: 'demo', streamServer: stream.address, window: '0s' }, 'payments')).toBe(0);
    const [header, row] = table.stdout.join('').trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['SERVICE', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'REQUESTS']);
    expect(row!.split(/\s+/)).toEqual(['payments.demo', '100.00%', '0.0', expect.stringMatching(/ms$/), expect.stringMatching(/ms$/), expect.stringMatching(/ms$/), '20']);
  }, 30_000);

  it('top --once counts the busiest paths of live traffic at the service itself', async () => {
    const io = collectingIo();
    const running = tapCommands.top(adminConfig, io, { namespace: 'demo', once: true, streamServer: stream.address }, 'payments', new AbortController().signal, false);
    await eventually('both sidecars tapping', () => (tapping(io) === 2 ? true : undefined));
    await charge(10);
    expect(await running).toBe(0);
    const [header, row] = io.stdout.join('').trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['METHOD', 'PATH', 'COUNT', 'SUCCESS', 'P50', 'P95', 'P99']);
    expect(row!.split(/\s+/).slice(0, 4)).toEqual(['POST', '/charge', '10', '100.00%']);
  }, 30_000);
});
