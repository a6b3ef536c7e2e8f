// The admin API over real mTLS gRPC: admin identity only, all-or-nothing applies, revisions, rollback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { API_VERSION } from '@tsmesh/proto';
import { AdminClient, AdminApiError } from '@tsmesh/control-plane';
import { startTestControlPlane, type TestControlPlane } from '../../test-support/control-plane.js';

let cp: TestControlPlane;
let admin: AdminClient;

const route = (name: string, service = 'orders'): object => ({ apiVersion: API_VERSION, kind: 'HTTPRoute', metadata: { name, namespace: 'shop' }, spec: { service, rules: [{ backends: [{ service }] }] } });

async function refusal(promise: Promise<unknown>): Promise<AdminApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AdminApiError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

beforeAll(async () => {
  cp = await startTestControlPlane();
  admin = new AdminClient(await cp.adminConfig());
});

afterAll(async () => {
  admin?.close();
  await cp?.cleanup();
});

describe('admin API', () => {
  it('refuses a workload identity, even one the mesh CA issued', async () => {
    const workload = await cp.issueWorkload('shop', 'orders');
    const config = await cp.adminConfig();
    const intruder = new AdminClient({ ...config, clientCertificateData: workload.certChainPem, clientKeyData: workload.keyPem });
    try {
      const error = await refusal(intruder.get({}));
      expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(error.message).toContain('spiffe://cluster.local/ns/shop/sa/orders is not the admin identity');
      expect((await refusal(intruder.createJoinToken({ namespace: 'shop', serviceAccount: 'x', ttlSeconds: 60, maxUses: 1 }))).code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      intruder.close();
    }
  });

  it('applies a batch as one revision, and nothing at all when one resource is invalid', async () => {
    const first = await admin.apply([route('a'), route('b')], { message: 'two routes' });
    expect(first.changes.map((c) => [c.key, c.action])).toEqual([['HTTPRoute/shop/a', 'created'], ['HTTPRoute/shop/b', 'created']]);
    const bad = await refusal(admin.apply([route('c'), { ...route('d'), spec: { service: 'orders', rules: [] } }]));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.message).toContain('nothing was applied');
    expect(bad.message).toContain('resource 2: spec.rules');
    const stored = await admin.get({ kind: 'HTTPRoute', namespace: 'shop' });
    expect(stored.resources_json.map((r) => (JSON.parse(r) as { metadata: { name: string } }).metadata.name)).toEqual(['a', 'b']);
    expect(Number(stored.revision)).toBe(Number(first.revision));
  });

  it('writes no revision for an apply that changes nothing, and a dry run writes nothing', async () => {
    const before = Number((await admin.get({})).revision);
    const same = await admin.apply([route('a')]);
    expect(same.changes[0]?.action).toBe('unchanged');
    const dry = await admin.apply([route('z')], { dryRun: true });
    expect(dry.changes[0]?.action).toBe('created');
    expect(Number((await admin.get({})).revision)).toBe(before);
    expect((await admin.get({ kind: 'HTTPRoute', namespace: 'shop' })).resources_json).toHaveLength(2);
  });

  it('refuses to delete what does not exist and names it; rollback restores an earlier state as a new revision', async () => {
    const missing = await refusal(admin.delete([{ kind: 'HTTPRoute', namespace: 'shop', name: 'a' }, { kind: 'HTTPRoute', namespace: 'shop', name: 'ghost' }]));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.message).toContain('HTTPRoute/shop/ghost not found');
    expect((await admin.get({ kind: 'httproute', namespace: 'shop', name: 'a' })).resources_json).toHaveLength(1);
    const withTwo = Number((await admin.get({})).revision);
    await admin.delete([{ kind: 'route', namespace: 'shop', name: 'a' }]);
    await admin.apply([route('b', 'payments')]);
    const back = await admin.rollback(withTwo);
    expect(Number(back.revision)).toBeGreaterThan(withTwo + 1);
    const restored = (await admin.get({ kind: 'HTTPRoute', namespace: 'shop' })).resources_json.map((r) => JSON.parse(r) as { metadata: { name: string }; spec: { service: string } });
    expect(restored.map((r) => [r.metadata.name, r.spec.service])).toEqual([['a', 'orders'], ['b', 'orders']]);
    const history = await admin.history(3);
    expect(history.entries[0]).toMatchObject({ op: 'rollback', rollback_to: withTwo });
    expect((await refusal(admin.rollback(999_999))).code).toBe(grpc.status.NOT_FOUND);
  });
});
