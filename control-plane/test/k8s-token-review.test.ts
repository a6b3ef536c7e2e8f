// Kubernetes mode, identity half: a sidecar bootstraps with its service-account token over real gRPC; TokenReview decides.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { startTestControlPlane } from '../../test-support/control-plane.js';
import { requestCertificate } from '../../sidecar/src/identity/identity-client.js';
import { parseSidecarConfig } from '../../sidecar/src/config.js';
import { JoinTokens } from '../src/tokens/index.js';
import { controlPlaneSpiffeId } from '../src/server.js';
import { proveServiceAccount } from '../src/identity/service-account-token.js';
import { tokenReviewer } from '../src/k8s/token-review.js';
import { FakeApiServer, serveRecordedCluster } from './k8s-api-server.js';
import { startKubernetesControlPlane, type KubernetesControlPlane } from './k8s-control-plane.js';

// Shaped like projected tokens (header.payload.signature); the recorded API server knows them by value.
const jwt = (name: string): string => `eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.${Buffer.from(JSON.stringify({ sub: name })).toString('base64url')}.c2lnbmF0dXJl`;
const TOKENS = {
  orders: jwt('orders'),
  expired: jwt('expired'),
  wrongAudience: jwt('wrong-audience'),
  user: jwt('user'),
  noAudience: jwt('no-audience'),
  meshSystem: jwt('mesh-system'),
};
const ORDERS_ID = 'spiffe://cluster.local/ns/demo/sa/orders';

let api: FakeApiServer;
let cp: KubernetesControlPlane;
let dir: string;

beforeAll(async () => {
  api = await FakeApiServer.start();
  serveRecordedCluster(api);
  api.reviews.set(TOKENS.orders, 'tokenreview-orders.json');
  api.reviews.set(TOKENS.wrongAudience, 'tokenreview-wrong-audience.json');
  api.reviews.set(TOKENS.user, 'tokenreview-user.json');
  api.reviews.set(TOKENS.noAudience, 'tokenreview-no-audience.json');
  api.reviews.set(TOKENS.meshSystem, 'tokenreview-mesh-system.json');
  cp = await startKubernetesControlPlane(api);
  dir = await mkdtemp(join(tmpdir(), 'tsmesh-sa-token-'));
  await writeFile(join(dir, 'ca.pem'), cp.running.ca.trustBundle().join(''));
});

afterAll(async () => {
  await cp?.stop();
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

const bootstrap = (token: string, spiffeId = ORDERS_ID, address = cp.running.address, roots = cp.running.ca.trustBundle()) =>
  requestCertificate({ controlPlaneAddress: address, controlPlaneIdentity: controlPlaneSpiffeId('cluster.local'), spiffeId, trustBundlePem: roots, joinToken: token });

describe('service-account token bootstrap (TokenReview)', () => {
  it('issues the certificate of the pod’s service account, read from --kubernetes-token-file, after a TokenReview with our audience', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKENS.orders}\n`);
    const caFile = join(dir, 'ca.pem');
    const config = parseSidecarConfig(['--service', 'orders', '--namespace', 'demo', '--service-account', 'orders', '--ca-file', caFile, '--kubernetes-token-file', tokenFile], {});
    if (!config.ok) throw new Error(config.error);
    const issued = await bootstrap(config.value.joinToken, config.value.spiffeId);
    expect(issued.ok && issued.value.spiffeId).toBe(ORDERS_ID);
    const review = api.requests.find((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews');
    expect(review?.body).toMatchObject({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: TOKENS.orders, audiences: ['tsmesh'] } });
    expect(cp.logs.find((l) => l['msg'] === 'issued workload certificate')).toMatchObject({ spiffeId: ORDERS_ID, via: 'service-account-token', serviceAccount: 'system:serviceaccount:demo:orders' });
  });

  it.each([
    ['an expired token', TOKENS.expired, 'UNAUTHENTICATED', /did not accept the service-account token: \[invalid bearer token, service account token has expired\]; mount a projected service-account token with audience "tsmesh"/],
    ['a token for another audience', TOKENS.wrongAudience, 'UNAUTHENTICATED', /token audiences \["https:\/\/kubernetes\.default\.svc\.cluster\.local"\] is invalid for the target audiences \["tsmesh"\]/],
    ['an answer that confirms no audience', TOKENS.noAudience, 'UNAUTHENTICATED', /valid for no audience, not "tsmesh"/],
    ['a user that is not a service account', TOKENS.user, 'PERMISSION_DENIED', /belongs to "jane@example\.com", which is not a service account/],
    ['a service account of mesh-system', TOKENS.meshSystem, 'PERMISSION_DENIED', /service accounts in mesh-system are the mesh's own/],
  ])('refuses %s', async (_what, token, code, message) => {
    const refused = await bootstrap(token);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toContain(`${code}: `);
      expect(refused.error).toMatch(message);
    }
  });

  it('refuses a CSR for another identity than the token proves', async () => {
    const refused = await bootstrap(TOKENS.orders, 'spiffe://cluster.local/ns/demo/sa/payments');
    expect(refused.ok ? 'issued' : refused.error).toMatch(/PERMISSION_DENIED: the CSR asks for spiffe:\/\/cluster\.local\/ns\/demo\/sa\/payments but the caller proved spiffe:\/\/cluster\.local\/ns\/demo\/sa\/orders/);
  });

  it('still accepts join tokens in Kubernetes mode', async () => {
    const tokens = await JoinTokens.open(cp.dataDir);
    const minted = tokens.mint({ namespace: 'vm', serviceAccount: 'batch', ttlMs: 60_000, trustDomain: 'cluster.local' });
    if (!minted.ok) throw new Error(minted.error);
    const issued = await bootstrap(minted.value.token, minted.value.spiffeId);
    expect(issued.ok && issued.value.spiffeId).toBe('spiffe://cluster.local/ns/vm/sa/batch');
  });

  it('outside Kubernetes mode, says that a service-account token needs --kubernetes', async () => {
    const plain = await startTestControlPlane();
    try {
      const refused = await bootstrap(TOKENS.orders, ORDERS_ID, plain.address, plain.running.ca.trustBundle());
      expect(refused.ok ? 'issued' : refused.error).toMatch(/UNAUTHENTICATED: this looks like a Kubernetes service-account token, but this control plane does not run in Kubernetes mode/);
    } finally {
      await plain.cleanup();
    }
  });

  it('answers UNAVAILABLE, a retryable status, when the API server cannot be asked', async () => {
    const config = new KubeConfig();
    config.loadFromOptions({ clusters: [{ name: 'gone', server: 'https://127.0.0.1:1', caData: Buffer.from(api.caPem).toString('base64') }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }], currentContext: 'gone' });
    const proved = await proveServiceAccount(TOKENS.orders, tokenReviewer(config.makeApiClient(AuthenticationV1Api), 'tsmesh'), 'cluster.local');
    expect(proved.ok ? 'proved' : [grpc.status[proved.error.code], proved.error.message]).toEqual(['UNAVAILABLE', expect.stringMatching(/^could not check the service-account token with the Kubernetes API server \(TokenReview\): .*ECONNREFUSED.*; try again$/)]);
  });

  it('refuses --kubernetes-token-file beside a join token, and an empty token file, in the sidecar’s flags', async () => {
    const caFile = join(dir, 'ca.pem');
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    const both = parseSidecarConfig(['--service', 'orders', '--ca-file', caFile, '--token', 'x', '--kubernetes-token-file', empty], {});
    expect(both.ok ? 'parsed' : both.error).toBe('--kubernetes-token-file and --token/--token-file are two ways to bootstrap; give only one');
    const blank = parseSidecarConfig(['--service', 'orders', '--ca-file', caFile], { MESH_KUBERNETES_TOKEN_FILE: empty });
    expect(blank.ok ? 'parsed' : blank.error).toBe(`--kubernetes-token-file: ${empty} is empty; it must hold the pod's projected service-account token`);
  });
});
