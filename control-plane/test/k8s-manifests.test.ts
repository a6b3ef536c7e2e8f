// Every manifest under k8s/ is a valid Kubernetes object, kustomizations list every file, and RBAC is exactly least privilege.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KINDS, validateResource } from '@tsmesh/proto';
import { injectObject } from '../src/k8s/inject.js';
import { DEFAULT_INJECT_OPTIONS } from '../src/k8s/sidecar-spec.js';
import { DEFAULT_WEBHOOK_PORT, WEBHOOK_PATH } from '../src/k8s/webhook.js';
import { K8S, crdErrors, readYamlDir, validateK8s, type K8sObject } from './k8s-schemas.js';

const DIRS = ['crds', 'base', 'examples'];
const files = DIRS.flatMap(readYamlDir);
const objects = files.flatMap((f) => f.docs.filter((d) => d.kind !== 'Kustomization').map((doc) => ({ file: f.file, doc })));
const find = (kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.doc.kind === kind && o.doc.metadata?.name === name)?.doc;
  if (!found) throw new Error(`no ${kind} ${name} under k8s/`);
  return found;
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

describe('k8s manifests', () => {
  it.each(objects.map((o) => [`${o.file}: ${o.doc.kind} ${o.doc.metadata?.name}`, o.doc] as const))('%s is valid', async (_name, doc) => {
    if (doc.apiVersion.startsWith('mesh.tsmesh.dev/')) {
      expect(crdErrors(doc)).toEqual([]);
      expect(validateResource(structuredClone(doc)).ok).toBe(true);
    } else {
      await validateK8s(doc);
    }
  });

  it.each(DIRS)('k8s/%s/kustomization.yaml lists exactly the YAML files beside it', (dir) => {
    const kustomization = files.find((f) => f.file === `${dir}/kustomization.yaml`)?.docs[0] as { resources: string[] } | undefined;
    const local = (kustomization?.resources ?? []).filter((r) => !r.startsWith('../'));
    expect(local.sort()).toEqual(readdirSync(join(K8S, dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
  });

  it('grants the control plane exactly what Kubernetes mode calls: list/watch resources, slices, pods, services, injected namespaces; TokenReviews; the CA ConfigMap; no Secret', () => {
    const cluster = find('ClusterRole', 'tsmesh-control-plane') as K8sObject & { rules: Rule[] };
    const normalize = (rules: Rule[]): Rule[] => rules.map((r) => ({ ...r, resources: [...r.resources].sort(), verbs: [...r.verbs].sort() }));
    expect(normalize(cluster.rules)).toEqual([
      { apiGroups: ['mesh.tsmesh.dev'], resources: KINDS.map((k) => k.plural).sort(), verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['namespaces', 'pods', 'services'], verbs: ['list', 'watch'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [DEFAULT_INJECT_OPTIONS.caConfigMap], verbs: ['get', 'update'] },
    ]);
    const roles = objects.filter((o) => ['Role', 'ClusterRole'].includes(o.doc.kind)).map((o) => o.doc.metadata?.name);
    expect(roles).toEqual(['tsmesh-control-plane']);
    for (const binding of objects.filter((o) => o.doc.kind.endsWith('Binding')).map((o) => o.doc as K8sObject & { subjects: unknown[] })) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'mesh-control-plane', namespace: 'mesh-system' }]);
    }
  });

  it('runs the control plane replicated, non-root, read-only, ready on /ready, with its CA from the mesh-ca Secret', () => {
    const deployment = find('Deployment', 'mesh-control-plane') as K8sObject & { spec: { replicas: number; template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Array<Record<string, unknown>>; volumes: Array<Record<string, unknown>> } } } };
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('mesh-control-plane');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(pod.containers[0]).toMatchObject({ image: 'tsmesh/control-plane:0.1.0', readinessProbe: { httpGet: { path: '/ready', port: 'http' } }, securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } });
    expect(pod.volumes).toContainEqual(expect.objectContaining({ name: 'ca', secret: expect.objectContaining({ secretName: 'mesh-ca' }) }));
    // Kubernetes mode: every replica serves the API server's state, so replicas agree.
    expect(pod.containers[0]?.['args']).toContain('--kubernetes');
  });

  it('points the webhook at the Service port that reaches the webhook listener', () => {
    const config = find('MutatingWebhookConfiguration', 'tsmesh-sidecar-injector') as K8sObject & { webhooks: Array<Record<string, unknown> & { clientConfig: { service: { name: string; namespace: string; path: string; port: number } } }> };
    const [hook] = config.webhooks;
    expect(hook).toMatchObject({ admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', namespaceSelector: { matchLabels: { 'tsmesh.dev/inject': 'enabled' } }, objectSelector: { matchExpressions: [{ key: 'tsmesh.dev/inject', operator: 'NotIn', values: ['false'] }] } });
    expect(hook?.clientConfig.service.path).toBe(WEBHOOK_PATH);
    const service = find('Service', hook?.clientConfig.service.name ?? '') as K8sObject & { spec: { ports: Array<{ name: string; port: number; targetPort: string }> } };
    const port = service.spec.ports.find((p) => p.port === hook?.clientConfig.service.port);
    const container = (find('Deployment', 'mesh-control-plane') as K8sObject & { spec: { template: { spec: { containers: Array<{ ports: Array<{ name: string; containerPort: number }> }> } } } }).spec.template.spec.containers[0];
    expect(container?.ports.find((p) => p.name === port?.targetPort)?.containerPort).toBe(DEFAULT_WEBHOOK_PORT);
    expect(service.spec.ports.map((p) => [p.name, p.port])).toEqual([['grpc', 15012], ['http', 15014], ['stream', 15015], ['webhook', 443]]);
  });

  it('deploys the four example services in demo, labelled for injection, each valid once injected', async () => {
    expect(find('Namespace', 'demo').metadata?.labels).toMatchObject({ 'tsmesh.dev/inject': 'enabled' });
    const deployments = objects.filter((o) => o.doc.kind === 'Deployment' && o.doc.metadata?.namespace === 'demo').map((o) => o.doc);
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual(['inventory', 'orders', 'payments', 'shop']);
    for (const deployment of deployments) {
      find('Service', deployment.metadata?.name ?? '');
      const injected = injectObject(deployment, DEFAULT_INJECT_OPTIONS);
      expect(injected.ok && injected.value.injected).toBe(true);
      if (injected.ok) await validateK8s(injected.value.object as K8sObject);
    }
  });

  it('exposes Jaeger’s OTLP and UI ports', () => {
    const service = find('Service', 'jaeger') as K8sObject & { spec: { ports: Array<{ port: number }> } };
    expect(service.spec.ports.map((p) => p.port)).toEqual([4317, 4318, 16686]);
  });
});
