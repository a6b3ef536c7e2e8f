// Keeps the registry's virtual addresses equal to what Services say, for the Services whose slices name mesh pods.
import type { CoreV1Api, KubeConfig, V1Service } from '@kubernetes/client-node';
import type { Logger } from '@tsmesh/proto';
import type { EndpointRegistry, ServiceAddress } from '../discovery/registry.js';
import type { EndpointSliceSync } from './endpoint-sync.js';
import { serviceAddresses, serviceKeyOf } from './service-address-model.js';
import { startWatch, type RetryBackoff, type RunningWatch } from './watch.js';

const summary = (a: ServiceAddress): string => `${a.address}->${a.targetPort}${a.protocol ? `/${a.protocol}` : ''}`;

// A Service is decided from itself and its slices alone, so replicas agree; it is decided again whenever the
// endpoint sync says its slices or their mesh pods changed, since whether it is a mesh service depends on them.
export class ServiceAddressSync {
  private readonly services = new Map<string, V1Service>();
  // What was last written and last warned about per service: each change is written and logged once.
  private readonly applied = new Map<string, string>();
  private readonly reported = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly registry: EndpointRegistry,
    private readonly endpoints: EndpointSliceSync,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = endpoints.onServiceChange((serviceKey) => this.reconcile(serviceKey));
  }

  upsert(service: V1Service): void {
    const key = serviceKeyOf(service);
    if (!key) {
      this.logger.warn('skipped a Service without metadata.name and metadata.namespace', { name: service.metadata?.name ?? '', namespace: service.metadata?.namespace ?? '' });
      return;
    }
    this.services.set(key, service);
    this.reconcile(key);
  }

  remove(service: V1Service): void {
    const key = serviceKeyOf(service);
    if (key && this.services.delete(key)) this.reconcile(key);
  }

  close(): void {
    this.unsubscribe();
  }

  private reconcile(serviceKey: string): void {
    const service = this.services.get(serviceKey);
    const plan = service ? serviceAddresses(service, this.endpoints.slicesOf(serviceKey), (nodeId) => this.endpoints.isMeshPod(nodeId)) : undefined;
    const problems = plan?.problems ?? [];
    const reported = JSON.stringify(problems);
    if ((this.reported.get(serviceKey) ?? '[]') !== reported) {
      for (const problem of problems) this.logger.warn('Service port left out', { service: serviceKey, problem });
      if (problems.length > 0) this.reported.set(serviceKey, reported);
      else this.reported.delete(serviceKey);
    }
    const addresses = plan?.addresses ?? [];
    const written = JSON.stringify(addresses);
    if ((this.applied.get(serviceKey) ?? '[]') === written) return;
    this.registry.setServiceAddresses(serviceKey, addresses);
    if (addresses.length > 0) this.applied.set(serviceKey, written);
    else this.applied.delete(serviceKey);
    const why = !plan ? { deleted: true } : plan.skipped ? { skipped: plan.skipped } : {};
    this.logger.info('service addresses from Services', { service: serviceKey, addresses: addresses.map(summary), ...why });
  }
}

export interface ServiceWatchOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  sync: ServiceAddressSync;
  logger: Logger;
  backoff?: RetryBackoff;
}

export function watchServices(options: ServiceWatchOptions): RunningWatch {
  const { sync } = options;
  return startWatch<V1Service>(options.kubeConfig, {
    what: 'services',
    path: '/api/v1/services',
    list: () => options.core.listServiceForAllNamespaces(),
    handlers: { upsert: (s) => sync.upsert(s), remove: (s) => sync.remove(s) },
    logger: options.logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
}
