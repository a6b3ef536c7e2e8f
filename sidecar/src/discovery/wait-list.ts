// Lookups waiting for discovery's answer: each bounded by a timeout and the caller's signal, all released on stop.
import { err, type Result } from '@tsmesh/proto';
import type { ResolveFailure } from './endpoint-resolver.js';
import type { CancelSignal } from '../pipeline/cancellation.js';

interface Waiter<T> {
  key: string;
  settle: (result: Result<T, ResolveFailure>) => void;
}

export class WaitList<T> {
  private readonly waiters = new Set<Waiter<T>>();

  // what: how the lookup is named in its failure messages (e.g. "orders.shop", "address 10.0.0.3:8080").
  wait(key: string, what: string, timeoutMs: number, state: () => string, signal?: CancelSignal): Promise<Result<T, ResolveFailure>> {
    return new Promise((resolve) => {
      const waiter: Waiter<T> = {
        key,
        settle: (result) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(result);
        },
      };
      const timer = setTimeout(() => waiter.settle(err({ kind: 'unavailable', message: `discovery gave no answer for ${what} within ${timeoutMs} ms (control plane ${state()})` })), timeoutMs);
      const onAbort = (): void => waiter.settle(err({ kind: 'unavailable', message: `lookup of ${what} was cancelled` }));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  // Settles every waiter whose key now has an answer (undefined: not yet).
  settle(answer: (key: string) => Result<T, ResolveFailure> | undefined): void {
    for (const waiter of [...this.waiters]) {
      const result = answer(waiter.key);
      if (result !== undefined) waiter.settle(result);
    }
  }

  stop(): void {
    for (const waiter of [...this.waiters]) waiter.settle(err({ kind: 'unavailable', message: 'the sidecar is shutting down' }));
  }
}
