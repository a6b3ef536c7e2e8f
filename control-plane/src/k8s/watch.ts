// One list-and-watch through @kubernetes/client-node's informer, restarted with backoff after an error.
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '@tsmesh/proto';
import { describeApiError } from './api-error.js';

export interface WatchHandlers<T> {
  upsert: (object: T) => void;
  remove: (object: T) => void;
}

export interface WatchOptions<T extends KubernetesObject> {
  // For log lines, e.g. "EndpointSlices".
  what: string;
  // The collection's URL path, e.g. /apis/discovery.k8s.io/v1/endpointslices.
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  handlers: WatchHandlers<T>;
  logger: Logger;
  backoff?: RetryBackoff;
}

export interface RetryBackoff {
  baseMs: number;
  maxMs: number;
}

export interface RunningWatch {
  // Settles once the first list has been handled: before that, the cache is not the cluster's state.
  synced: Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_WATCH_BACKOFF: RetryBackoff = { baseMs: 500, maxMs: 30_000 };

// Exponential with jitter in [50%, 100%]: replicas that lost the API server together do not come back in step.
export function watchRetryDelay(attempt: number, backoff: RetryBackoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export function startWatch<T extends KubernetesObject>(kubeConfig: KubeConfig, options: WatchOptions<T>): RunningWatch {
  const { logger, what } = options;
  const backoff = options.backoff ?? DEFAULT_WATCH_BACKOFF;
  let attempt = 0;
  let stopped = false;
  let listed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  const list = async (): Promise<KubernetesListObject<T>> => {
    const result = await options.list();
    attempt = 0;
    listed = true;
    logger.info('listed', { what, items: result.items.length, resourceVersion: result.metadata?.resourceVersion ?? '' });
    return result;
  };
  const informer = makeInformer<T>(kubeConfig, options.path, list, options.labelSelector);
  // The informer swallows what its callbacks throw (it parses and dispatches in one try); a bug must still be seen.
  const guarded = (name: string, handler: (object: T) => void) => (object: T) => {
    // An event is proof the watch works: the next failure starts from the shortest pause again.
    attempt = 0;
    try {
      handler(object);
    } catch (error) {
      logger.error('watch handler failed', { what, event: name, object: `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`, error: error instanceof Error ? error.stack : String(error) });
    }
  };
  informer.on('add', guarded('add', options.handlers.upsert));
  informer.on('update', guarded('update', options.handlers.upsert));
  informer.on('delete', guarded('delete', options.handlers.remove));
  const run = (): void => {
    if (stopped) return;
    informer.start().then(
      () => {
        if (listed) markSynced();
      },
      (error: unknown) => retry(error),
    );
  };
  const retry = (error: unknown): void => {
    // Stopping aborts the open watch, which the informer reports as an error.
    if (stopped || retryTimer) return;
    const delay = watchRetryDelay(attempt++, backoff);
    logger.warn('watch failed; restarting it after a pause', { what, error: describeApiError(error), retryInMs: delay });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      run();
    }, delay);
  };
  informer.on('error', retry);
  run();
  return {
    synced,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}
