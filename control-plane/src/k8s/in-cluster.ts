// The control plane's Kubernetes mode: config from custom resources, endpoints from EndpointSlices, ClusterIPs from Services, identity from TokenReview, the trust bundle published per namespace.
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@tsmesh/proto';
import type { EndpointRegistry } from '../discovery/registry.js';
import type { TokenReviewer } from '../identity/index.js';
import { CustomResourceSource, watchCustomResources } from './custom-resources.js';
import { EndpointSliceSync, watchEndpoints } from './endpoint-sync.js';
import { ServiceAddressSync, watchServices } from './service-address-sync.js';
import { TrustBundlePublisher, watchInjectedNamespaces } from './ca-configmap.js';
import { tokenReviewer } from './token-review.js';
import { DEFAULT_INJECT_OPTIONS, TOKEN_AUDIENCE } from './sidecar-spec.js';
import type { RetryBackoff, RunningWatch } from './watch.js';

export interface KubernetesModeOptions {
  kubeConfig: KubeConfig;
  // The audience sidecars' projected tokens carry (default "tsmesh", as the injector mounts them).
  tokenAudience?: string;
  // The ConfigMap the trust bundle is published as (default "tsmesh-ca-root", as the injector mounts it).
  caConfigMap?: string;
  // How often every published ConfigMap is checked again, so an edited or deleted one comes back.
  republishIntervalMs?: number;
  backoff?: RetryBackoff;
}

export interface KubernetesModeContext {
  registry: EndpointRegistry;
  trustDomain: string;
  trustBundle: () => string;
  logger: Logger;
}

export interface KubernetesMode {
  resources: CustomResourceSource;
  tokenReviewer: TokenReviewer;
  publisher: TrustBundlePublisher;
  stop(): Promise<void>;
}

const DEFAULT_REPUBLISH_MS = 10 * 60_000;

// Settles once resources, endpoints and Services have been listed: serving before that would push sidecars an empty policy.
export async function startKubernetesMode(options: KubernetesModeOptions, ctx: KubernetesModeContext): Promise<KubernetesMode> {
  const { kubeConfig } = options;
  const logger = ctx.logger;
  const backoff = options.backoff ? { backoff: options.backoff } : {};
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const resources = new CustomResourceSource(logger.child('resources'));
  const sync = new EndpointSliceSync(ctx.registry, ctx.trustDomain, logger.child('endpoints'));
  const services = new ServiceAddressSync(ctx.registry, sync, logger.child('services'));
  const publisher = new TrustBundlePublisher({ core, name: options.caConfigMap ?? DEFAULT_INJECT_OPTIONS.caConfigMap, bundle: ctx.trustBundle, logger: logger.child('trust-bundle'), ...backoff });
  const watches: RunningWatch[] = [
    ...watchCustomResources({ kubeConfig, api: kubeConfig.makeApiClient(CustomObjectsApi), source: resources, logger: logger.child('resources'), ...backoff }),
    ...watchEndpoints({ kubeConfig, core, discovery: kubeConfig.makeApiClient(DiscoveryV1Api), sync, logger: logger.child('endpoints'), ...backoff }),
    watchServices({ kubeConfig, core, sync: services, logger: logger.child('services'), ...backoff }),
    watchInjectedNamespaces({ kubeConfig, core, publisher, logger: logger.child('trust-bundle'), ...backoff }),
  ];
  const republish = setInterval(() => void publisher.refresh(), options.republishIntervalMs ?? DEFAULT_REPUBLISH_MS);
  republish.unref();
  const stop = async (): Promise<void> => {
    clearInterval(republish);
    publisher.stop();
    services.close();
    sync.close();
    await Promise.all(watches.map((w) => w.stop()));
  };
  await Promise.all(watches.map((w) => w.synced));
  logger.info('kubernetes mode: resources and endpoints listed', { server: kubeConfig.getCurrentCluster()?.server ?? '' });
  return { resources, tokenReviewer: tokenReviewer(kubeConfig.makeApiClient(AuthenticationV1Api), options.tokenAudience ?? TOKEN_AUDIENCE), publisher, stop };
}
