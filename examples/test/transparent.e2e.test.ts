// Transparent interception end to end: three pods in network namespaces, apps calling each other by pod IP with no mesh
// knowledge, their traffic carried over mTLS by sidecars behind iptables rules; a capture on the bridge checks the wire.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrpcResult, HttpResult, TcpResult } from '../src/netns-apps/contract.js';
import { netnsSkipReason, type Pod } from '../../test-support/netns.js';
import { streamsContaining, tlsStreamsTo, type TcpSegment } from '../../test-support/pcap.js';
import { failed, startMeshPods, MESH_NAMESPACE, PROXY_UID, type MeshPods } from '../../test-support/mesh-pods.js';
import { parsePrometheus, type Sample } from '../../test-support/prometheus.js';
import { eventually } from '../../test-support/control-plane.js';

const skipReason = netnsSkipReason();
const marker = (what: string): string => `${what}-${randomBytes(6).toString('hex')}`;
const APP_PORTS = [8080, 9090, 7000, 7001];

interface AppReply {
  pod: string;
  marker: string;
  remoteAddress: string;
  headers: Record<string, string | undefined>;
  body: string;
}

describe.skipIf(skipReason !== undefined)(`three pods with transparent mTLS between their sidecars${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let mesh: MeshPods;
  let a: Pod;
  let b: Pod;
  let c: Pod;
  const serverMarkers: Record<string, string> = {};
  let captureCount = 0;

  // The result of `work` and every TCP segment that crossed the bridge meanwhile.
  async function captured<T>(work: () => Promise<T>): Promise<{ result: T; segments: TcpSegment[] }> {
    const capture = await mesh.net.capture(join(mesh.dir, `capture-${++captureCount}.pcap`));
    try {
      return { result: await work(), segments: await capture.stop() };
    } finally {
      await capture.stop().catch(() => []);
    }
  }

  const logs = (...pods: Pod[]): string => pods.map((pod) => `--- sidecar ${pod.name}:\n${mesh.sidecarLog(pod)}`).join('\n');

  async function http(from: Pod, to: Pod, body: string): Promise<HttpResult> {
    const result = await mesh.client<HttpResult>(from, ['http', 'POST', `http://${to.ip}:8080/echo/${body}`, body]);
    if (failed(result)) throw new Error(`HTTP ${from.name} -> ${to.ip}:8080 failed: ${result.error}\n${logs(from, to)}`);
    return result;
  }

  const reply = (result: HttpResult): AppReply => JSON.parse(result.body) as AppReply;

  async function client<T extends object>(from: Pod, to: Pod, args: string[]): Promise<T> {
    const result = await mesh.client<T>(from, args);
    if (failed(result)) throw new Error(`${args.join(' ')} from ${from.name} failed: ${result.error}\n${logs(from, to)}`);
    return result;
  }

  async function metrics(pod: Pod): Promise<Sample[]> {
    const result = await client<HttpResult>(pod, pod, ['http', 'GET', 'http://127.0.0.1:15000/metrics']);
    return parsePrometheus(result.body).samples;
  }

  // Set once every sidecar is ready, so that the tests through the mesh fail at once, and say why, when they are not.
  let sidecarsReady = false;
  const requireSidecars = (): void => {
    if (!sidecarsReady) throw new Error('the sidecars did not all get ready: see the test that starts them');
  };

  const spiffe = (pod: Pod): string => `spiffe://cluster.local/ns/${MESH_NAMESPACE}/sa/${pod.name}`;

  beforeAll(async () => {
    mesh = await startMeshPods(['a', 'b', 'c']);
    [a, b, c] = ['a', 'b', 'c'].map((name) => mesh.net.pod(name)) as [Pod, Pod, Pod];
    for (const pod of [b, c]) {
      serverMarkers[pod.name] = marker(`app-${pod.name}`);
      await mesh.startApps(pod, serverMarkers[pod.name]!);
    }
  }, 60_000);

  afterAll(async () => {
    await mesh?.teardown();
  }, 30_000);

  it('reaches the apps of B and C by pod IP before interception, and the capture sees their bytes in the clear', async () => {
    const sent = marker('direct');
    const { result, segments } = await captured(async () => ({
      toB: await http(a, b, sent),
      toC: await http(a, c, sent),
      grpc: await client<GrpcResult>(a, b, ['grpc-unary', `${b.ip}:9090`, sent]),
      banner: await client<TcpResult>(a, b, ['tcp-banner', b.ip, '7001', sent]),
    }));
    expect(result.toB.status).toBe(200);
    expect(reply(result.toB)).toMatchObject({ pod: 'b', marker: serverMarkers['b'], remoteAddress: a.ip, body: sent });
    expect(reply(result.toC)).toMatchObject({ pod: 'c', marker: serverMarkers['c'], remoteAddress: a.ip, body: sent });
    expect(reply(result.toB).headers['x-mesh-peer-identity']).toBeUndefined();
    expect(result.grpc.code).toBe(0);
    expect(result.banner.banner).toBe(`${serverMarkers['b']}:banner from b`);
    // The same search that must find nothing once the mesh is in place finds every marker here.
    expect(streamsContaining(segments, sent).length).toBeGreaterThanOrEqual(4);
    expect(streamsContaining(segments, serverMarkers['b']!)).not.toEqual([]);
    expect(streamsContaining(segments, serverMarkers['c']!)).not.toEqual([]);
  }, 60_000);

  it('installs the rules in every pod and starts a sidecar per pod, as uid 1337, that gets ready', async () => {
    for (const pod of [a, b, c]) {
      const installed = await mesh.iptables(pod, 'install');
      expect(installed.stderr).toBe('');
      expect(installed.stdout).toBe('{"event":"iptables","action":"install","result":"installed"}\n');
    }
    const sidecars = await Promise.all([a, b, c].map((pod) => mesh.startSidecar(pod)));
    for (const sidecar of sidecars) {
      const status = readFileSync(`/proc/${sidecar.child.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(PROXY_UID));
      expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(PROXY_UID));
    }
    sidecarsReady = true;
  }, 90_000);

  it('carries HTTP/1.1 from A to B and C by pod IP through both sidecars, with no app byte in the clear on the wire', async () => {
    requireSidecars();
    const sent = marker('http');
    const { result, segments } = await captured(async () => ({ toB: await http(a, b, sent), toC: await http(a, c, sent) }));
    expect(result.toB.status, logs(a, b)).toBe(200);
    expect(result.toC.status, logs(a, c)).toBe(200);
    // The app is handed the request by its own sidecar over loopback, not by A.
    expect(reply(result.toB)).toMatchObject({ pod: 'b', marker: serverMarkers['b'], remoteAddress: '127.0.0.1', body: sent });
    expect(reply(result.toC)).toMatchObject({ pod: 'c', marker: serverMarkers['c'], remoteAddress: '127.0.0.1', body: sent });
    expect(result.toB.headers['x-app-marker']).toBe(serverMarkers['b']);
    // B's sidecar verified A's certificate and tells the app who called.
    expect(reply(result.toB).headers['x-mesh-peer-identity']).toBe(spiffe(a));
    expect(reply(result.toC).headers['x-mesh-peer-identity']).toBe(spiffe(a));
    for (const secret of [sent, serverMarkers['b']!, serverMarkers['c']!]) expect(streamsContaining(segments, secret)).toEqual([]);
    expect(segments.filter((segment) => APP_PORTS.includes(segment.dstPort) || APP_PORTS.includes(segment.srcPort))).toEqual([]);
    const tls = tlsStreamsTo(segments, 15006);
    expect(tls.some((stream) => stream.startsWith(`${a.ip}:`) && stream.endsWith(`>${b.ip}:15006`)), tls.join(', ')).toBe(true);
    expect(tls.some((stream) => stream.startsWith(`${a.ip}:`) && stream.endsWith(`>${c.ip}:15006`)), tls.join(', ')).toBe(true);
  }, 60_000);

  it('passes gRPC unary, bidirectional streaming and a failing call with their status codes and trailers intact', async () => {
    requireSidecars();
    const sent = marker('grpc');
    const target = `${b.ip}:9090`;
    const { result, segments } = await captured(async () => ({
      unary: await client<GrpcResult>(a, b, ['grpc-unary', target, sent]),
      chat: await client<GrpcResult>(a, b, ['grpc-chat', target, sent, '5']),
      refused: await client<GrpcResult>(a, b, ['grpc-refuse', target, sent]),
    }));
    expect(result.unary, logs(a, b)).toMatchObject({ code: 0, messages: [{ text: `${serverMarkers['b']}:${sent}`, pod: 'b' }] });
    expect(result.unary.trailers['x-pod']).toBe('b');
    expect(result.chat.code, `${result.chat.details}\n${logs(a, b)}`).toBe(0);
    expect(result.chat.messages.map((m) => m.text)).toEqual([1, 2, 3, 4, 5].map((i) => `${serverMarkers['b']}:${i}:${sent}-${i}`));
    expect(result.chat.trailers).toMatchObject({ 'x-pod': 'b', 'x-count': '5' });
    // FAILED_PRECONDITION: the app's own status, message and trailers, not a mesh error.
    expect(result.refused.code, logs(a, b)).toBe(9);
    expect(result.refused.details).toBe(`b refuses ${sent}`);
    expect(result.refused.trailers).toMatchObject({ 'x-pod': 'b', 'x-refuse-reason': `${serverMarkers['b']}-refused` });
    for (const secret of [sent, serverMarkers['b']!]) expect(streamsContaining(segments, secret)).toEqual([]);
    expect(segments.filter((segment) => segment.dstPort === 9090)).toEqual([]);
    expect(tlsStreamsTo(segments, 15006)).not.toEqual([]);
  }, 60_000);

  it('carries opaque TCP: an echo, and a server that speaks first', async () => {
    requireSidecars();
    const sent = marker('tcp');
    const { result, segments } = await captured(async () => ({
      echo: await client<TcpResult>(a, b, ['tcp-echo', b.ip, '7000', sent]),
      banner: await client<TcpResult>(a, c, ['tcp-banner', c.ip, '7001', sent]),
    }));
    expect(result.echo.reply).toBe(`${serverMarkers['b']}:${sent}`);
    expect(result.banner.banner).toBe(`${serverMarkers['c']}:banner from c`);
    expect(result.banner.reply).toBe(`${serverMarkers['c']}:${sent}`);
    for (const secret of [sent, serverMarkers['b']!, serverMarkers['c']!]) expect(streamsContaining(segments, secret)).toEqual([]);
    expect(segments.filter((segment) => segment.dstPort === 7000 || segment.dstPort === 7001)).toEqual([]);
    expect(tlsStreamsTo(segments, 15006)).not.toEqual([]);
  }, 60_000);

  it("counts the calls in the sidecars' metrics, gRPC by its grpc-status", async () => {
    requireSidecars();
    const inbound = (await metrics(b)).filter((s) => s.name === 'mesh_requests_total' && s.labels['direction'] === 'inbound' && s.labels['source'] === spiffe(a));
    expect(inbound.reduce((sum, s) => sum + s.value, 0), JSON.stringify(inbound)).toBeGreaterThanOrEqual(4);
    const outbound = (await metrics(a)).filter((s) => s.name === 'mesh_requests_total' && s.labels['direction'] === 'outbound' && s.labels['destination'] === `b.${MESH_NAMESPACE}`);
    expect(outbound.reduce((sum, s) => sum + s.value, 0), JSON.stringify(outbound)).toBeGreaterThanOrEqual(4);
    // The failing call answered HTTP 200 with grpc-status 9 in its trailers: that is the result a gRPC caller sees.
    const grpc = async (pod: Pod, direction: string): Promise<Record<string, number>> =>
      Object.fromEntries(
        (await metrics(pod))
          .filter((s) => s.name === 'mesh_grpc_responses_total' && s.labels['direction'] === direction && s.labels['destination'] === `b.${MESH_NAMESPACE}`)
          .map((s) => [s.labels['grpc_status'] ?? '', s.value]),
      );
    // Unary and Chat answered OK, Refuse FAILED_PRECONDITION; each side of the mesh counts them.
    expect(await grpc(b, 'inbound')).toEqual({ '0': 2, '9': 1 });
    expect(await grpc(a, 'outbound')).toEqual({ '0': 2, '9': 1 });
    const handshakes = (await metrics(b)).filter((s) => s.name === 'mesh_tls_handshakes_total' && s.labels['direction'] === 'inbound' && s.labels['result'] === 'success');
    expect(handshakes.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('enforces an AuthorizationPolicy on the intercepted path: A -> B is refused with 403, A -> C still passes', async () => {
    requireSidecars();
    const policy = join(mesh.dir, 'deny-a.yaml');
    writeFileSync(policy, `apiVersion: mesh.tsmesh.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: deny-a
  namespace: ${MESH_NAMESPACE}
spec:
  service: b
  action: DENY
  rules:
  - from:
    - principals: ["${spiffe(a)}"]
`);
    const applied = await mesh.meshctl(['apply', '-f', policy]);
    expect(applied.code, applied.stderr).toBe(0);
    const denied = await eventually('403 from A to B', async () => {
      const result = await http(a, b, marker('denied'));
      return result.status === 403 ? result : undefined;
    }, 10_000);
    expect(denied.headers['x-mesh-error']).toBe('MESH_ERR_FORBIDDEN');
    expect(String(denied.headers['x-mesh-reason'])).toContain(`AuthorizationPolicy ${MESH_NAMESPACE}/deny-a`);
    // The same policy refuses gRPC as a trailers-only PERMISSION_DENIED, and opaque TCP by closing the connection.
    const grpcDenied = await client<GrpcResult>(a, b, ['grpc-unary', `${b.ip}:9090`, marker('denied')]);
    expect(grpcDenied.code).toBe(7);
    const tcpDenied = await mesh.client<TcpResult>(a, ['tcp-echo', b.ip, '7000', marker('denied')]);
    expect(failed(tcpDenied), JSON.stringify(tcpDenied)).toBe(true);
    expect((await http(a, c, marker('allowed'))).status).toBe(200);
    expect((await mesh.meshctl(['delete', '-f', policy])).code).toBe(0);
    await eventually('200 from A to B again', async () => ((await http(a, b, marker('again'))).status === 200 ? true : undefined), 10_000);
  }, 60_000);

  it('uninstall restores direct traffic, which the capture then sees in the clear', async () => {
    for (const pod of [a, b]) {
      expect((await mesh.iptables(pod, 'uninstall')).stdout).toBe('{"event":"iptables","action":"uninstall","result":"removed"}\n');
      const nat = await mesh.net.exec(pod.ns, ['iptables-save', '-t', 'nat']);
      expect(nat.stdout).not.toContain('TSMESH');
    }
    const sent = marker('uninstalled');
    const { result, segments } = await captured(() => http(a, b, sent));
    expect(reply(result)).toMatchObject({ pod: 'b', marker: serverMarkers['b'], remoteAddress: a.ip, body: sent });
    expect(streamsContaining(segments, sent)).not.toEqual([]);
    expect(streamsContaining(segments, serverMarkers['b']!)).not.toEqual([]);
    expect((await mesh.iptables(a, 'uninstall')).stdout).toBe('{"event":"iptables","action":"uninstall","result":"nothing-to-remove"}\n');
  }, 60_000);
});
