// Publishes the mesh's trust bundle as a ConfigMap in every namespace labelled for injection: what injected sidecars mount.
import type { CoreV1Api, KubeConfig, V1ConfigMap, V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '@tsmesh/proto';
import { describeApiError, statusCodeOf } from './api-error.js';
import { CA_BUNDLE_KEY, LABELS } from './sidecar-spec.js';
import { startWatch, watchRetryDelay, DEFAULT_WATCH_BACKOFF, type RetryBackoff, type RunningWatch } from './watch.js';

export const INJECTION_SELECTOR = `${LABELS.inject}=enabled`;

export interface TrustBundlePublisherOptions {
  core: CoreV1Api;
  // The ConfigMap's name (the injector's caConfigMap) and the PEM bundle to publish.
  name: string;
  bundle: () => string;
  logger: Logger;
  backoff?: RetryBackoff;
}

type Outcome = 'unchanged' | 'created' | 'updated';

// Every replica publishes the same bundle, so they converge: each reads first and writes only a difference,
// and a write that lost a race (409) is read and compared again.
export class TrustBundlePublisher {
  private readonly namespaces = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly attempts = new Map<string, number>();
  private stopped = false;

  constructor(private readonly options: TrustBundlePublisherOptions) {}

  upsertNamespace(namespace: V1Namespace): void {
    const name = namespace.metadata?.name;
    if (!name) return;
    if (namespace.metadata?.labels?.[LABELS.inject] !== 'enabled') {
      this.namespaces.delete(name);
      return;
    }
    this.namespaces.add(name);
    void this.publish(name);
  }

  // The ConfigMap stays: pods already running there still mount it.
  removeNamespace(namespace: V1Namespace): void {
    if (namespace.metadata?.name) this.namespaces.delete(namespace.metadata.name);
  }

  // After the bundle changed, or to put back a ConfigMap someone edited or deleted.
  refresh(): Promise<void> {
    return Promise.all([...this.namespaces].map((ns) => this.publish(ns))).then(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  // One write at a time per namespace, in order.
  publish(namespace: string): Promise<void> {
    const previous = this.queues.get(namespace) ?? Promise.resolve();
    const next = previous.then(() => this.attempt(namespace));
    this.queues.set(namespace, next);
    return next;
  }

  private async attempt(namespace: string): Promise<void> {
    if (this.stopped || !this.namespaces.has(namespace)) return;
    try {
      const outcome = await this.ensure(namespace, true);
      this.attempts.delete(namespace);
      if (outcome !== 'unchanged') this.options.logger.info('published the trust bundle', { namespace, configMap: this.options.name, outcome });
    } catch (error) {
      const attempt = this.attempts.get(namespace) ?? 0;
      this.attempts.set(namespace, attempt + 1);
      const delay = watchRetryDelay(attempt, this.options.backoff ?? DEFAULT_WATCH_BACKOFF);
      this.options.logger.warn('could not publish the trust bundle; retrying', { namespace, configMap: this.options.name, error: describeApiError(error), retryInMs: delay });
      clearTimeout(this.retries.get(namespace));
      this.retries.set(
        namespace,
        setTimeout(() => {
          this.retries.delete(namespace);
          void this.publish(namespace);
        }, delay),
      );
    }
  }

  private async ensure(namespace: string, retryConflict: boolean): Promise<Outcome> {
    const { core, name } = this.options;
    const bundle = this.options.bundle();
    const existing = await core.readNamespacedConfigMap({ name, namespace }).catch((error: unknown) => {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    });
    try {
      if (!existing) {
        await core.createNamespacedConfigMap({ namespace, body: this.configMap(namespace, bundle) });
        return 'created';
      }
      if (existing.data?.[CA_BUNDLE_KEY] === bundle) return 'unchanged';
      // resourceVersion set: a concurrent writer makes this fail with 409 rather than be overwritten blindly.
      const body = this.configMap(namespace, bundle);
      body.metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion, labels: { ...existing.metadata?.labels, ...body.metadata?.labels } };
      await core.replaceNamespacedConfigMap({ name, namespace, body });
      return 'updated';
    } catch (error) {
      if (statusCodeOf(error) === 409 && retryConflict) return this.ensure(namespace, false);
      throw error;
    }
  }

  private configMap(namespace: string, bundle: string): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.options.name, namespace, labels: { 'app.kubernetes.io/part-of': 'tsmesh', 'app.kubernetes.io/managed-by': 'mesh-control-plane' } },
      data: { [CA_BUNDLE_KEY]: bundle },
    };
  }
}

export interface NamespaceWatchOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  publisher: TrustBundlePublisher;
  logger: Logger;
  backoff?: RetryBackoff;
}

// Only namespaces labelled for injection: the label selector keeps the rest off the wire.
export function watchInjectedNamespaces(options: NamespaceWatchOptions): RunningWatch {
  const { publisher } = options;
  return startWatch<V1Namespace>(options.kubeConfig, {
    what: 'namespaces',
    path: '/api/v1/namespaces',
    labelSelector: INJECTION_SELECTOR,
    list: () => options.core.listNamespace({ labelSelector: INJECTION_SELECTOR }),
    handlers: { upsert: (ns) => publisher.upsertNamespace(ns), remove: (ns) => publisher.removeNamespace(ns) },
    logger: options.logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
}
