// Configuration end to end: meshctl applies policy to real sidecars, which enforce it within a second.
import { rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, startExampleService, startSidecarProcess, BIN, type ControlPlaneHandle, type MeshedService } from '../src/launcher.js';
import { spawnManaged, type ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { tempDir, eventually } from '../../test-support/control-plane.js';

let dataDir: string;
let cp: ControlPlaneHandle;
let payments: MeshedService;
let loadgen: { process: ManagedProcess; outboundPort: number; adminPort: number };

function meshctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnManaged('meshctl', process.execPath, [BIN.meshctl, '--config', join(dataDir, 'meshctl.yaml'), '--server', cp.address, ...args]);
  const out: string[] = [];
  const err: string[] = [];
  proc.child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  proc.child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  return proc.exited.then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
}

function manifest(name: string, yaml: string): string {
  const path = join(dataDir, name);
  writeFileSync(path, yaml);
  return path;
}

const charge = (): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
  callThroughProxy(`http://127.0.0.1:${loadgen.outboundPort}`, 'http://payments.demo/charge', { body: { amount: 1 } });

async function typeState(node: string, type: string): Promise<{ state: string; error: string } | undefined> {
  const { stdout } = await meshctl('proxy-status', '-o', 'json');
  const rows = JSON.parse(stdout || '[]') as Array<{ node: string; types: Record<string, { state: string; error: string }> }>;
  return rows.find((r) => r.node.startsWith(node))?.types[type];
}

const DENY_LOADGEN = `apiVersion: mesh.tsmesh.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: deny-loadgen
  namespace: demo
spec:
  service: payments
  action: DENY
  rules:
  - from:
    - principals: ["spiffe://cluster.local/ns/demo/sa/loadgen"]
`;

beforeAll(async () => {
  dataDir = tempDir('policy');
  cp = await startControlPlane(dataDir, { logDir: join(dataDir, 'logs') });
  payments = await startExampleService('payments', cp, dataDir, join(dataDir, 'logs'));
  loadgen = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'loadgen', logDir: join(dataDir, 'logs') });
  expect((await charge()).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await payments?.stop();
  await loadgen?.process.stop();
  await cp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe('policy through meshctl', () => {
  it('denies loadgen -> payments within a second of apply, and a rollback lets it through again', async () => {
    const before = await meshctl('history', '-o', 'json');
    const startRevision = (JSON.parse(before.stdout) as Array<{ revision: number }>)[0]?.revision ?? 0;
    const applied = await meshctl('apply', '-f', manifest('deny.yaml', DENY_LOADGEN));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('authorizationpolicy/deny-loadgen (demo) created');
    const appliedAt = Date.now();
    const denied = await eventually('403 at loadgen', async () => {
      const res = await charge();
      return res.status === 403 ? res : undefined;
    }, 3_000);
    expect(Date.now() - appliedAt).toBeLessThan(1_000);
    expect(denied.headers['x-mesh-error']).toBe('MESH_ERR_FORBIDDEN');
    expect(String(denied.headers['x-mesh-reason'])).toContain('AuthorizationPolicy demo/deny-loadgen');

    const rolledBack = await meshctl('rollback', String(startRevision));
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    const rolledAt = Date.now();
    await eventually('200 after rollback', async () => ((await charge()).status === 200 ? true : undefined), 3_000);
    expect(Date.now() - rolledAt).toBeLessThan(1_000);
    const history = JSON.parse((await meshctl('history', '-o', 'json')).stdout) as Array<{ op: string; rollbackTo?: number; actor: string; message: string }>;
    expect(history[0]).toMatchObject({ op: 'rollback', rollbackTo: startRevision });
    expect(history[1]?.message).toContain('meshctl apply -f');
    expect(history[1]?.actor).toContain('spiffe://cluster.local/ns/mesh-system/sa/mesh-admin');
  }, 20_000);

  it('NACKs a resource the sidecars cannot apply, keeps traffic flowing, and shows NACKED then SYNCED', async () => {
    const bad = manifest('bad-route.yaml', `apiVersion: mesh.tsmesh.dev/v1alpha1
kind: HTTPRoute
metadata: { name: broken, namespace: demo }
spec:
  service: payments
  rules:
  - matches: [{ path: { type: RegularExpression, value: "/(" } }]
`);
    const refused = await meshctl('apply', '-f', bad);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/bad-route\.yaml:7:\d+: document 1: spec\.rules\[0\]\.matches\[0\]\.path\.value: not a valid regular expression/);
    // --validate=false stands in for a control plane older than its sidecars: only they catch it.
    const forced = await meshctl('apply', '--validate=false', '-f', bad);
    expect(forced.code, forced.stderr).toBe(0);
    const nacked = await eventually('loadgen NACKED', async () => {
      const t = await typeState('loadgen', 'ServiceRoutes');
      return t?.state === 'NACKED' ? t : undefined;
    });
    expect(nacked.error).toContain('not a valid regular expression');
    for (let i = 0; i < 5; i++) expect((await charge()).status).toBe(200);
    expect((await meshctl('delete', 'httproute', 'broken', '-n', 'demo')).code).toBe(0);
    await eventually('loadgen SYNCED', async () => ((await typeState('loadgen', 'ServiceRoutes'))?.state === 'SYNCED' ? true : undefined));
  }, 20_000);

  it('shows STALE while a sidecar has not answered a push', async () => {
    payments.sidecar.child.kill('SIGSTOP');
    try {
      expect((await meshctl('apply', '-f', manifest('deny2.yaml', DENY_LOADGEN))).code).toBe(0);
      await eventually('payments STALE', async () => ((await typeState('payments', 'InboundPolicy'))?.state === 'STALE' ? true : undefined));
    } finally {
      payments.sidecar.child.kill('SIGCONT');
    }
    await eventually('payments SYNCED', async () => ((await typeState('payments', 'InboundPolicy'))?.state === 'SYNCED' ? true : undefined));
    expect((await charge()).status).toBe(403);
    expect((await meshctl('delete', '-f', join(dataDir, 'deny2.yaml'))).code).toBe(0);
    await eventually('200 again', async () => ((await charge()).status === 200 ? true : undefined));
  }, 20_000);

  it('refuses plaintext in STRICT mode and accepts it, unauthenticated, in PERMISSIVE mode', async () => {
    const plainGet = (): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(payments.inboundPort!, '127.0.0.1', () => socket.write('POST /charge HTTP/1.1\r\nHost: payments.demo\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}'));
        let data = '';
        socket.on('data', (d: Buffer) => (data += d.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(data));
      });
    expect(await plainGet()).not.toContain('HTTP/1.1 200');
    const permissive = manifest('mesh.yaml', 'apiVersion: mesh.tsmesh.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: default }\nspec: { mtls: { mode: PERMISSIVE } }\n');
    const appliedMesh = await meshctl('apply', '-f', permissive);
    expect(appliedMesh.code, appliedMesh.stderr).toBe(0);
    const answer = await eventually('plaintext 200', async () => {
      const text = await plainGet();
      return text.startsWith('HTTP/1.1 200') ? text : undefined;
    });
    // The app sees no identity for a plaintext caller.
    expect(answer).toContain('"caller":"unknown"');
    expect((await meshctl('delete', 'meshconfig', 'default')).code).toBe(0);
    await eventually('plaintext refused again', async () => ((await plainGet()).includes('HTTP/1.1 200') ? undefined : true));
  }, 20_000);

  it('meshctl get, describe and diff show what is stored and what would change', async () => {
    const path = manifest('dp.yaml', 'apiVersion: mesh.tsmesh.dev/v1alpha1\nkind: DestinationPolicy\nmetadata: { name: payments, namespace: demo }\nspec: { service: payments, loadBalancer: { type: round-robin } }\n');
    const diffNew = await meshctl('diff', '-f', path);
    expect(diffNew.code).toBe(1);
    expect(diffNew.stdout).toContain('+ kind: DestinationPolicy');
    expect((await meshctl('apply', '-f', path)).code).toBe(0);
    expect(await meshctl('diff', '-f', path)).toMatchObject({ code: 0, stdout: 'no differences\n' });
    const table = await meshctl('get', 'destinationpolicies', '-n', 'demo');
    expect(table.stdout).toMatch(/^NAMESPACE\s+NAME\s+SUMMARY\s+REVISION\s+AGE\ndemo\s+payments\s+service=payments/);
    const json = JSON.parse((await meshctl('get', 'dp', 'payments', '-n', 'demo', '-o', 'json')).stdout) as { spec: unknown; metadata: { generation: number } };
    expect(json).toMatchObject({ spec: { service: 'payments', loadBalancer: { type: 'round-robin' } }, metadata: { generation: 1 } });
    writeFileSync(path, 'apiVersion: mesh.tsmesh.dev/v1alpha1\nkind: DestinationPolicy\nmetadata: { name: payments, namespace: demo }\nspec: { service: payments, loadBalancer: { type: p2c-ewma } }\n');
    const diffChanged = await meshctl('diff', '-f', path);
    expect(diffChanged.stdout).toContain('-     type: round-robin');
    expect(diffChanged.stdout).toContain('+     type: p2c-ewma');
    const described = await meshctl('describe', 'dp', 'payments', '-n', 'demo');
    expect(described.stdout).toContain('History:');
    expect(described.stdout).toMatch(/created\s+spiffe:\/\/cluster\.local\/ns\/mesh-system\/sa\/mesh-admin/);
    const missing = await meshctl('get', 'dp', 'nope', '-n', 'demo');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
    const check = await meshctl('check');
    expect(check.stdout).toContain('reachable');
    expect(check.code, check.stdout).toBe(0);
  }, 30_000);
});

describe('meshctl proxy-config and explain', () => {
  it('shows what a sidecar was sent, and predicts allow, deny and no-endpoints with the reason', async () => {
    expect((await charge()).status).toBe(200);
    const config = JSON.parse((await meshctl('proxy-config', 'payments.demo', '-o', 'json')).stdout) as { identity: string; inboundPolicy: { service: string } };
    expect(config).toMatchObject({ identity: 'spiffe://cluster.local/ns/demo/sa/payments', inboundPolicy: { service: 'payments' } });
    const loadgenConfig = JSON.parse((await meshctl('proxy-config', 'loadgen.demo', '-o', 'json')).stdout) as { endpoints: Record<string, unknown[]> };
    expect(loadgenConfig.endpoints['payments.demo']).toHaveLength(1);
    const allowed = await meshctl('explain', 'loadgen.demo', 'payments.demo', '/charge', '-X', 'POST');
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain('Verdict: would be forwarded');
    expect((await meshctl('apply', '-f', manifest('deny3.yaml', DENY_LOADGEN))).code).toBe(0);
    const denied = await meshctl('explain', 'loadgen.demo', 'payments.demo', '/charge', '-X', 'POST');
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('Verdict: REFUSED with 403 MESH_ERR_FORBIDDEN: denied by AuthorizationPolicy demo/deny-loadgen');
    // The prediction matches what the sidecar does.
    await eventually('403 enforced', async () => ((await charge()).status === 403 ? true : undefined));
    expect((await meshctl('delete', '-f', join(dataDir, 'deny3.yaml'))).code).toBe(0);
    const nowhere = await meshctl('explain', 'loadgen.demo', 'ledger.demo');
    expect(nowhere.stdout).toContain('503 MESH_ERR_NO_ENDPOINTS');
  }, 30_000);
});
