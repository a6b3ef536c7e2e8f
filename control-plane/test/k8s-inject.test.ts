// Sidecar injection: valid Kubernetes objects out, a native sidecar, idempotent, opt-out honoured; meshctl inject on YAML.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseSidecarConfig } from '../../sidecar/src/config.js';
import { injectObject } from '../src/k8s/inject.js';
import { DEFAULT_INJECT_OPTIONS, PROXY_UID, iptablesArgs } from '../src/k8s/sidecar-spec.js';
import { injectCommand } from '../src/cli/commands-inject.js';
import { validateK8s, yamlDocuments, type K8sObject } from './k8s-schemas.js';

type Container = { name: string; restartPolicy?: string; args?: string[]; env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>; securityContext?: Record<string, unknown>; startupProbe?: { httpGet?: { path: string; port: number } }; volumeMounts?: Array<{ name: string; mountPath: string }> };
type PodSpec = { containers: Container[]; initContainers?: Container[]; volumes?: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken?: { audience: string } }> } }> };

const template = (labels: Record<string, string> = { app: 'orders' }, annotations: Record<string, string> = {}): Record<string, unknown> => ({
  metadata: { labels, annotations },
  spec: { serviceAccountName: 'orders', containers: [{ name: 'app', image: 'tsmesh/examples:0.1.0', ports: [{ containerPort: 8080 }] }] },
});
const pod = (labels?: Record<string, string>, annotations?: Record<string, string>): K8sObject => ({ apiVersion: 'v1', kind: 'Pod', ...template(labels, annotations), metadata: { name: 'orders-1', namespace: 'demo', labels: labels ?? { app: 'orders' }, annotations: annotations ?? {} } });
const workload = (apiVersion: string, kind: string, spec: Record<string, unknown>): K8sObject => ({ apiVersion, kind, metadata: { name: 'orders', namespace: 'demo' }, spec });
const deployment = (): K8sObject => workload('apps/v1', 'Deployment', { replicas: 2, selector: { matchLabels: { app: 'orders' } }, template: template() });

function inject(object: K8sObject): { injected: boolean; object: K8sObject; reason?: string } {
  const result = injectObject(object, DEFAULT_INJECT_OPTIONS);
  if (!result.ok) throw new Error(result.error);
  return { ...result.value, object: result.value.object as K8sObject };
}
const podSpec = (object: K8sObject, ...path: string[]): PodSpec => path.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, object as Record<string, unknown>) as unknown as PodSpec;
const env = (c: Container | undefined, name: string): unknown => c?.env?.find((e) => e.name === name)?.value ?? c?.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;

describe('injectObject', () => {
  it('adds the iptables init step and a native sidecar that the app waits for, and the pod stays valid', async () => {
    const result = inject(pod());
    expect(result.injected).toBe(true);
    await validateK8s(result.object);
    const spec = podSpec(result.object, 'spec');
    const [init, sidecar] = spec.initContainers ?? [];
    expect(init?.args).toEqual(iptablesArgs(DEFAULT_INJECT_OPTIONS));
    expect(init?.securityContext).toMatchObject({ runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    expect(sidecar).toMatchObject({ name: 'tsmesh-sidecar', restartPolicy: 'Always', startupProbe: { httpGet: { path: '/ready', port: 15000 } }, securityContext: { runAsUser: PROXY_UID, runAsNonRoot: true, readOnlyRootFilesystem: true } });
    expect(init?.args).toContain(String(PROXY_UID));
    expect([env(sidecar, 'MESH_SERVICE'), env(sidecar, 'MESH_NAMESPACE'), env(sidecar, 'MESH_SERVICE_ACCOUNT'), env(sidecar, 'MESH_APP_PORT')]).toEqual(["metadata.labels['app']", 'metadata.namespace', 'spec.serviceAccountName', '8080']);
    expect(env(sidecar, 'MESH_CA_FILE')).toBe('/var/run/secrets/tsmesh/ca/trust-bundle.pem');
    expect(sidecar?.volumeMounts?.map((m) => m.mountPath)).toContain('/var/run/secrets/tsmesh/token');
    expect(spec.volumes?.find((v) => v.name === 'tsmesh-token')?.projected?.sources[0]?.serviceAccountToken?.audience).toBe('tsmesh');
    expect(spec.containers).toEqual(podSpec(pod(), 'spec').containers);
  });

  it('puts the mesh containers before the pod’s own init containers, and keeps its volumes', async () => {
    const input = pod();
    Object.assign(podSpec(input, 'spec'), { initContainers: [{ name: 'migrate', image: 'busybox' }], volumes: [{ name: 'cache', emptyDir: {} }] });
    const spec = podSpec(inject(input).object, 'spec');
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['tsmesh-init', 'tsmesh-sidecar', 'migrate']);
    expect(spec.volumes?.map((v) => v.name)).toEqual(['cache', 'tsmesh-token', 'tsmesh-ca']);
    await validateK8s(inject(input).object);
  });

  it.each([
    ['Deployment', deployment(), ['spec', 'template', 'spec']],
    ['StatefulSet', workload('apps/v1', 'StatefulSet', { serviceName: 'orders', selector: { matchLabels: { app: 'orders' } }, template: template() }), ['spec', 'template', 'spec']],
    ['DaemonSet', workload('apps/v1', 'DaemonSet', { selector: { matchLabels: { app: 'orders' } }, template: template() }), ['spec', 'template', 'spec']],
    ['Job', workload('batch/v1', 'Job', { template: { ...template(), spec: { ...(template()['spec'] as object), restartPolicy: 'Never' } } }), ['spec', 'template', 'spec']],
    ['CronJob', workload('batch/v1', 'CronJob', { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { ...template(), spec: { ...(template()['spec'] as object), restartPolicy: 'OnFailure' } } } } }), ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
  ])('injects a %s pod template as a native sidecar, so Jobs still finish', async (_kind, input, path) => {
    const result = inject(input);
    expect(result.injected).toBe(true);
    await validateK8s(result.object);
    const spec = podSpec(result.object, ...path);
    // A sidecar among containers would keep a Job's pod running forever.
    expect(spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(spec.initContainers?.find((c) => c.name === 'tsmesh-sidecar')?.restartPolicy).toBe('Always');
    expect(input).toEqual(structuredClone(input));
  });

  it('is idempotent: injecting an injected object changes nothing', () => {
    for (const input of [pod(), deployment()]) {
      const once = inject(input).object;
      const twice = inject(once);
      expect(twice).toMatchObject({ injected: false, reason: 'already-injected' });
      expect(twice.object).toEqual(once);
    }
  });

  it('does not change its input', () => {
    const input = deployment();
    const copy = structuredClone(input);
    inject(input);
    expect(input).toEqual(copy);
  });

  it.each([
    ['pod label', pod({ app: 'orders', 'tsmesh.dev/inject': 'false' })],
    ['pod annotation', pod({ app: 'orders' }, { 'tsmesh.dev/inject': 'false' })],
    ['workload annotation', { ...deployment(), metadata: { name: 'orders', annotations: { 'tsmesh.dev/inject': 'false' } } }],
  ])('honours the opt-out by %s', (_how, input) => {
    expect(inject(input)).toMatchObject({ injected: false, reason: 'opted-out', object: input });
  });

  it('takes the service from the annotation, then app.kubernetes.io/name, then app, and refuses a pod with none', () => {
    const sidecar = (o: K8sObject): Container | undefined => podSpec(inject(o).object, 'spec').initContainers?.[1];
    expect(env(sidecar(pod({ app: 'x', 'app.kubernetes.io/name': 'y' }, { 'tsmesh.dev/service': 'z' })), 'MESH_SERVICE')).toBe("metadata.annotations['tsmesh.dev/service']");
    expect(env(sidecar(pod({ app: 'x', 'app.kubernetes.io/name': 'y' })), 'MESH_SERVICE')).toBe("metadata.labels['app.kubernetes.io/name']");
    const none = injectObject(pod({ tier: 'web' }), DEFAULT_INJECT_OPTIONS);
    expect(none.ok ? 'injected' : none.error).toContain('label app.kubernetes.io/name or app');
  });

  it('turns on transparent mode with the pod IP, and declares every TCP port of the app containers with the protocol its name gives', () => {
    const multi = pod();
    podSpec(multi, 'spec').containers = [
      { name: 'app', ports: [{ containerPort: 8080, name: 'http-web' }, { containerPort: 9090, name: 'grpc' }, { containerPort: 8125, protocol: 'UDP' }] },
      { name: 'db', ports: [{ containerPort: 5432, name: 'tcp-postgres' }, { containerPort: 7000 }] },
    ] as never;
    const sidecar = podSpec(inject(multi).object, 'spec').initContainers?.[1];
    expect(env(sidecar, 'MESH_TRANSPARENT')).toBe('true');
    expect(env(sidecar, 'MESH_POD_IP')).toBe('$(POD_IP)');
    expect(env(sidecar, 'NODE_OPTIONS')).toBe('--max-semi-space-size=4 --max-old-space-size=192');
    expect(env(sidecar, 'MESH_APP_PORTS')).toBe('8080/http,9090/grpc,5432/tcp,7000');
  });

  it('gives the sidecar an environment it accepts, once the kubelet has filled in the downward API', () => {
    const sidecar = podSpec(inject(pod()).object, 'spec').initContainers?.[1];
    const fields: Record<string, string> = { "metadata.labels['app']": 'orders', 'metadata.namespace': 'demo', 'spec.serviceAccountName': 'orders', 'metadata.name': 'orders-1', 'status.podIP': '10.244.1.7' };
    const vars: Record<string, string> = {};
    for (const e of sidecar?.env ?? []) vars[e.name] = e.value !== undefined ? e.value.replace(/\$\((\w+)\)/g, (_m, name: string) => vars[name] ?? '') : (fields[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '');
    const dir = mkdtempSync(join(tmpdir(), 'tsmesh-inject-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'pem');
      writeFileSync(join(dir, 'token'), 'jwt');
      const config = parseSidecarConfig([], { ...vars, MESH_CA_FILE: join(dir, 'ca.pem'), MESH_KUBERNETES_TOKEN_FILE: join(dir, 'token') });
      if (!config.ok) throw new Error(config.error);
      expect(config.value).toMatchObject({ service: 'orders', namespace: 'demo', nodeId: 'orders-1.demo', transparent: true, podIp: '10.244.1.7', advertiseAddress: '10.244.1.7:15006', bindHost: '0.0.0.0', appPort: 8080 });
      expect(config.value.appPorts).toEqual([{ port: 8080, protocol: '' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the app port from the annotation, refuses a bad one, and injects a client-only sidecar when there is none', () => {
    expect(env(podSpec(inject(pod({ app: 'o' }, { 'tsmesh.dev/app-port': '9090' })).object, 'spec').initContainers?.[1], 'MESH_APP_PORT')).toBe('9090');
    const bad = injectObject(pod({ app: 'o' }, { 'tsmesh.dev/app-port': 'http' }), DEFAULT_INJECT_OPTIONS);
    expect(bad.ok ? 'injected' : bad.error).toContain('is not a port number');
    const noPorts = pod();
    delete (podSpec(noPorts, 'spec').containers[0] as { ports?: unknown }).ports;
    expect(env(podSpec(inject(noPorts).object, 'spec').initContainers?.[1], 'MESH_APP_PORT')).toBeUndefined();
  });

  it('passes other kinds through and skips host-network pods', () => {
    const configMap: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } };
    expect(inject(configMap)).toMatchObject({ injected: false, reason: 'not-a-workload', object: configMap });
    const host = pod();
    Object.assign(podSpec(host, 'spec'), { hostNetwork: true });
    expect(inject(host)).toMatchObject({ injected: false, reason: 'host-network' });
  });
});

describe('meshctl inject', () => {
  const run = async (text: string, filename = ['-']): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await injectCommand({ out: (t) => void (out += t), err: (t) => void (err += t) }, { filename }, () => text);
    return { code, out, err };
  };

  it('injects workloads in a YAML stream and passes other documents through with their comments', async () => {
    const input = ['# config for orders', 'apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: orders}', 'data: {a: b}', '---', YAML.stringify(deployment())].join('\n');
    const { code, out, err } = await run(input);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('# config for orders');
    const docs = yamlDocuments(out, 'out');
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Deployment']);
    for (const doc of docs) await validateK8s(doc);
    expect(podSpec(docs[1] as K8sObject, 'spec', 'template', 'spec').initContainers?.map((c) => c.name)).toEqual(['tsmesh-init', 'tsmesh-sidecar']);
    expect((await run(out)).out).toBe(out);
  });

  it('names the document that cannot be injected and writes nothing', async () => {
    const bad = { ...deployment(), spec: { selector: {}, template: { metadata: { labels: { tier: 'x' } }, spec: { containers: [{ name: 'a', image: 'b' }] } } } };
    const { code, out, err } = await run(`kind: ConfigMap\n---\n${YAML.stringify(bad)}`);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toContain('<stdin>: document 2: cannot tell which service');
  });

  it('says when a file is missing', async () => {
    const { code, err } = await run('', ['/nonexistent/pods.yaml']);
    expect(code).toBe(1);
    expect(err).toContain('/nonexistent/pods.yaml: no such file');
  });
});
