// The injector webhook over real HTTPS: AdmissionReview v1 in, a JSONPatch that an RFC 6902 applier turns into a valid injected pod.
import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jsonPatch from 'fast-json-patch';
import { createLogger } from '@tsmesh/proto';
import { initCertificateAuthority, type CertificateAuthority } from '../src/ca/index.js';
import { startInjectionWebhook, type RunningWebhook } from '../src/k8s/webhook.js';
import { injectObject } from '../src/k8s/inject.js';
import { DEFAULT_INJECT_OPTIONS } from '../src/k8s/sidecar-spec.js';
import { validateK8s, type K8sObject } from './k8s-schemas.js';

const SERVICE_DNS = 'mesh-control-plane.mesh-system.svc';
let dataDir: string;
let ca: CertificateAuthority;
let webhook: RunningWebhook;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tsmesh-webhook-'));
  ca = await initCertificateAuthority(dataDir, { trustDomain: 'cluster.local' });
  webhook = await startInjectionWebhook({ ca, host: '127.0.0.1', port: 0, dnsNames: [SERVICE_DNS], logger: createLogger('test.webhook') });
});

afterAll(async () => {
  await webhook.close();
  await rm(dataDir, { recursive: true, force: true });
});

// As the API server dials it: the Service's DNS name checked against the caBundle (the mesh root).
function post(body: string, options: { method?: string; path?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: webhook.port, servername: SERVICE_DNS, ca: ca.trustBundle(), method: options.method ?? 'POST', path: options.path ?? '/inject', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pod = (annotations: Record<string, string> = {}, extra: Record<string, unknown> = {}): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'orders-7d9f-', namespace: 'demo', labels: { app: 'orders', 'pod-template-hash': '7d9f' }, annotations } as K8sObject['metadata'],
  spec: { serviceAccountName: 'orders', containers: [{ name: 'app', image: 'tsmesh/examples:0.1.0', ports: [{ containerPort: 8080 }] }], ...extra },
});
const review = (object: unknown, uid = 'a1b2c3'): string => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'demo', operation: 'CREATE', object } });

type Response = { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] };

async function admit(object: unknown): Promise<Response> {
  const { status, json } = await post(review(object));
  expect(status).toBe(200);
  expect(json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  return json['response'] as Response;
}

function applyPatch(object: K8sObject, response: Response): K8sObject {
  expect(response.patchType).toBe('JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as jsonPatch.Operation[];
  // validateOperation: an invalid path or a missing parent fails here, as it would in the API server.
  return jsonPatch.applyPatch(structuredClone(object), ops, true, false).newDocument;
}

describe('injection webhook', () => {
  it.each([
    ['a plain pod', pod()],
    ['a pod with its own init containers, volumes and a "/" in an annotation key', pod({ 'example.com/owner': 'a~b' }, { initContainers: [{ name: 'migrate', image: 'busybox' }], volumes: [{ name: 'cache', emptyDir: {} }] })],
  ])('answers %s with a JSONPatch that yields the injected pod', async (_name, input) => {
    const response = await admit(input);
    expect(response).toMatchObject({ uid: 'a1b2c3', allowed: true });
    const patched = applyPatch(input, response);
    await validateK8s(patched);
    const expected = injectObject(input, DEFAULT_INJECT_OPTIONS);
    expect(expected.ok && expected.value.object).toEqual(patched);
  });

  it.each([
    ['opted out by annotation', pod({ 'tsmesh.dev/inject': 'false' })],
    ['already injected', (() => {
      const injected = injectObject(pod(), DEFAULT_INJECT_OPTIONS);
      return injected.ok ? injected.value.object : undefined;
    })()],
  ])('allows a pod %s without a patch', async (_name, input) => {
    const response = await admit(input);
    expect(response).toEqual({ uid: 'a1b2c3', allowed: true });
  });

  it('lets a pod it cannot inject through, with a warning that says why', async () => {
    const input = pod();
    (input.metadata as { labels: Record<string, string> }).labels = { tier: 'web' };
    const response = await admit(input);
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeUndefined();
    expect(response.warnings?.[0]).toContain('cannot tell which service');
  });

  it.each([
    ['a body that is not JSON', '{"apiVersion": ', 'the body is not JSON'],
    ['an AdmissionReview of another version', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), 'admission.k8s.io/v1'],
    ['a review without a request uid', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { object: pod() } }), 'no request.uid'],
  ])('refuses %s with 400 and a clear error', async (_name, body, message) => {
    const { status, json } = await post(body);
    expect(status).toBe(400);
    expect(String(json['error'])).toContain(message);
  });

  it('answers only POST /inject', async () => {
    expect((await post('', { method: 'GET' })).status).toBe(405);
    expect((await post(review(pod()), { path: '/mutate' })).status).toBe(404);
  });
});
