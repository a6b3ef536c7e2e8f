// The mesh's custom resources as read from the API server, each checked with the schemas `meshctl apply` uses.
import type { CustomObjectsApi, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KINDS, formatPath, validateResource, type KindDefinition, type Logger } from '@tsmesh/proto';
import type { ResourceSource } from '../discovery/config-view.js';
import type { StoredResource } from '../store/index.js';
import { startWatch, type RetryBackoff, type RunningWatch } from './watch.js';

const VERSION = API_VERSION.slice(API_GROUP.length + 1);
// kubectl's copy of the whole object: large, and nothing a sidecar enforces.
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type CustomObject = KubernetesObject & { spec?: unknown; status?: unknown };

function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

// Only the metadata the resource schema knows: the API server adds managedFields, finalizers and the like.
function candidate(object: CustomObject): Record<string, unknown> {
  const meta = object.metadata ?? {};
  const annotations = Object.fromEntries(Object.entries(meta.annotations ?? {}).filter(([key]) => key !== LAST_APPLIED));
  const metadata: Record<string, unknown> = { name: meta.name };
  if (meta.namespace) metadata['namespace'] = meta.namespace;
  if (meta.labels && Object.keys(meta.labels).length > 0) metadata['labels'] = meta.labels;
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  if (meta.resourceVersion) metadata['resourceVersion'] = meta.resourceVersion;
  if (typeof meta.generation === 'number') metadata['generation'] = meta.generation;
  if (meta.uid) metadata['uid'] = meta.uid;
  return { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec };
}

// Every replica decides from the object alone, so replicas agree: an invalid object is left out
// (its previous version too), never half-applied, and the other resources keep serving.
export class CustomResourceSource implements ResourceSource {
  private readonly resources = new Map<string, StoredResource>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly logger: Logger) {}

  upsert(kind: KindDefinition, object: CustomObject): void {
    const name = object.metadata?.name ?? '';
    const namespace = kind.namespaced ? (object.metadata?.namespace ?? '') : '';
    const key = resourceKey(kind.kind, namespace, name);
    const where = `${kind.kind} ${namespace ? `${namespace}/` : ''}${name}`;
    const checked = validateResource(candidate(object));
    if (!checked.ok) {
      const dropped = this.resources.delete(key);
      this.logger.warn('skipped an invalid custom resource', {
        resource: where,
        problems: checked.error.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
        fix: `correct it and kubectl apply it again${dropped ? '; its previous version no longer applies' : ''}`,
      });
      if (dropped) this.emit();
      return;
    }
    this.resources.set(key, checked.value as unknown as StoredResource);
    this.emit();
  }

  remove(kind: KindDefinition, object: CustomObject): void {
    const namespace = kind.namespaced ? (object.metadata?.namespace ?? '') : '';
    if (this.resources.delete(resourceKey(kind.kind, namespace, object.metadata?.name ?? ''))) this.emit();
  }

  get(kind: string, namespace: string, name: string): StoredResource | undefined {
    return this.resources.get(resourceKey(kind, namespace, name));
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    return [...this.resources.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, resource]) => resource)
      .filter((r) => (kind === undefined || r.kind === kind) && (namespace === undefined || (r.metadata.namespace ?? '') === namespace));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

export interface CustomResourceWatchOptions {
  kubeConfig: KubeConfig;
  api: CustomObjectsApi;
  source: CustomResourceSource;
  logger: Logger;
  backoff?: RetryBackoff;
}

// One watch per kind, across all namespaces.
export function watchCustomResources(options: CustomResourceWatchOptions): RunningWatch[] {
  return KINDS.map((kind) =>
    startWatch<CustomObject>(options.kubeConfig, {
      what: `${kind.plural}.${API_GROUP}`,
      path: `/apis/${API_GROUP}/${VERSION}/${kind.plural}`,
      list: async () => (await options.api.listClusterCustomObject({ group: API_GROUP, version: VERSION, plural: kind.plural })) as KubernetesListObject<CustomObject>,
      handlers: { upsert: (object) => options.source.upsert(kind, object), remove: (object) => options.source.remove(kind, object) },
      logger: options.logger,
      ...(options.backoff ? { backoff: options.backoff } : {}),
    }),
  );
}
