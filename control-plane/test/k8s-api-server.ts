// A Kubernetes API server stand-in for tests: real HTTPS on 127.0.0.1:0, lists and watches answered with recorded JSON.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { initCertificateAuthority } from '../src/ca/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'k8s');
export const CLUSTER_TOKEN = 'test-cluster-token';

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function fixtureJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fixture(name)) as T;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

interface Watcher {
  path: string;
  query: URLSearchParams;
  res: ServerResponse;
}

// What a real API server answers for an object it does not have.
function notFound(resource: string, name: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${resource} "${name}" not found`, reason: 'NotFound', details: { name, kind: resource }, code: 404 };
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  // Collection path -> the list body served for it (a fixture), replaceable to model a relist.
  readonly lists = new Map<string, string>();
  // Service-account token -> TokenReview fixture; any other token gets tokenreview-expired.json.
  readonly reviews = new Map<string, string>();
  readonly configMaps = new Map<string, Record<string, unknown>>();
  private readonly watchers: Watcher[] = [];
  private revision = 9000;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly caPem: string,
    private readonly dir: string,
  ) {}

  static async start(): Promise<FakeApiServer> {
    const dir = await mkdtemp(join(tmpdir(), 'tsmesh-kube-api-'));
    const ca = await initCertificateAuthority(dir, { trustDomain: 'kube.test' });
    const serving = await ca.issueServingCertificate({ dnsNames: ['kubernetes.default.svc'], ttlMs: 3600_000 });
    const server = createServer({ key: serving.keyPem, cert: serving.certChainPem.join('') });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const fake = new FakeApiServer(server, `https://127.0.0.1:${port}`, ca.trustBundle().join(''), dir);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    return fake;
  }

  kubeConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'recorded', server: this.url, caData: Buffer.from(this.caPem).toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'control-plane', token: CLUSTER_TOKEN }],
      contexts: [{ name: 'recorded', cluster: 'recorded', user: 'control-plane' }],
      currentContext: 'recorded',
    });
    return config;
  }

  openWatches(path: string): Watcher[] {
    return this.watchers.filter((w) => w.path === path);
  }

  // Writes each newline-delimited event of a fixture to every open watch of `path`.
  send(path: string, eventsFixture: string, options: { end?: boolean } = {}): number {
    const open = this.openWatches(path);
    for (const watcher of open) {
      watcher.res.write(fixture(eventsFixture));
      if (options.end) watcher.res.end();
    }
    return open.length;
  }

  watchRequests(path: string): URLSearchParams[] {
    return this.requests.filter((r) => r.path === path && r.query.get('watch') === 'true').map((r) => r.query);
  }

  async close(): Promise<void> {
    for (const watcher of [...this.watchers]) watcher.res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.searchParams, body });
    const reply = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    if (req.headers.authorization !== `Bearer ${CLUSTER_TOKEN}`) {
      reply(401, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      return;
    }
    if (method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const spec = (body as { spec: { token: string } }).spec;
      const review = fixtureJson(this.reviews.get(spec.token) ?? 'tokenreview-expired.json');
      reply(201, { ...review, spec });
      return;
    }
    const configMap = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/.exec(url.pathname);
    if (configMap) {
      this.configMapRequest(method, configMap[1] ?? '', configMap[2], body, reply);
      return;
    }
    if (method === 'GET' && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      const watcher = { path: url.pathname, query: url.searchParams, res };
      this.watchers.push(watcher);
      res.on('close', () => this.watchers.splice(this.watchers.indexOf(watcher), 1));
      return;
    }
    const list = this.lists.get(url.pathname);
    if (method === 'GET' && list) return reply(200, fixture(list));
    reply(404, notFound(url.pathname, url.pathname.split('/').at(-1) ?? ''));
  }

  private configMapRequest(method: string, namespace: string, name: string | undefined, body: unknown, reply: (status: number, value: unknown) => void): void {
    const object = body as { metadata: { name: string; resourceVersion?: string } } | undefined;
    const key = `${namespace}/${name ?? object?.metadata.name ?? ''}`;
    const stored = this.configMaps.get(key);
    if (method === 'GET' && name) return stored ? reply(200, stored) : reply(404, notFound('configmaps', name));
    if (method === 'POST' && object) {
      if (stored) return reply(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `configmaps "${object.metadata.name}" already exists`, reason: 'AlreadyExists', code: 409 });
      const created = { ...object, metadata: { ...object.metadata, namespace, resourceVersion: String(++this.revision), uid: `uid-${this.revision}` } };
      this.configMaps.set(key, created);
      return reply(201, created);
    }
    if (method === 'PUT' && name && object) {
      if (!stored) return reply(404, notFound('configmaps', name));
      const current = (stored['metadata'] as { resourceVersion?: string }).resourceVersion;
      if (object.metadata.resourceVersion !== current) {
        return reply(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `Operation cannot be fulfilled on configmaps "${name}": the object has been modified; please apply your changes to the latest version and try again`, reason: 'Conflict', code: 409 });
      }
      const updated = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.revision) } };
      this.configMaps.set(key, updated);
      return reply(200, updated);
    }
    reply(405, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${method} not allowed here`, reason: 'MethodNotAllowed', code: 405 });
  }
}

// Paths the control plane lists and watches in Kubernetes mode, with the fixture each first list answers.
export const COLLECTIONS = {
  pods: '/api/v1/pods',
  endpointSlices: '/apis/discovery.k8s.io/v1/endpointslices',
  namespaces: '/api/v1/namespaces',
  services: '/api/v1/services',
  httpRoutes: '/apis/mesh.tsmesh.dev/v1alpha1/httproutes',
} as const;

export function serveRecordedCluster(api: FakeApiServer): void {
  api.lists.set(COLLECTIONS.pods, 'pods-list.json');
  api.lists.set(COLLECTIONS.endpointSlices, 'endpointslices-list.json');
  api.lists.set(COLLECTIONS.namespaces, 'namespaces-list.json');
  api.lists.set(COLLECTIONS.services, 'services-list.json');
  for (const plural of ['httproutes', 'authorizationpolicies', 'meshconfigs', 'destinationpolicies', 'ratelimitpolicies']) {
    api.lists.set(`/apis/mesh.tsmesh.dev/v1alpha1/${plural}`, `${plural}-list.json`);
  }
}
