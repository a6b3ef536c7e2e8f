// Which service owns each workload address the app dialled transparently: subscribed on first use, answered from then on.
import { err, ok, type Result } from '@tsmesh/proto';
import type { AddressOwner, ResolveFailure } from './endpoint-resolver.js';

interface Waiter {
  address: string;
  settle: (result: Result<AddressOwner | null, ResolveFailure>) => void;
}

export class AddressTable {
  private readonly owners = new Map<string, AddressOwner | null>();
  private readonly subscribed = new Set<string>();
  private readonly waiters = new Set<Waiter>();

  constructor(
    // Called when the subscribed set grows, to send the new subscription.
    private readonly subscribe: () => void,
    private readonly timeoutMs: number,
    private readonly state: () => string,
  ) {}

  names(): string[] {
    return [...this.subscribed].sort();
  }

  known(address: string): AddressOwner | null | undefined {
    return this.owners.get(address);
  }

  resolve(address: string, signal?: AbortSignal): Promise<Result<AddressOwner | null, ResolveFailure>> {
    const owner = this.owners.get(address);
    if (owner !== undefined) return Promise.resolve(ok(owner));
    if (!this.subscribed.has(address)) {
      this.subscribed.add(address);
      this.subscribe();
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        address,
        settle: (result) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(result);
        },
      };
      const timer = setTimeout(() => waiter.settle(err({ kind: 'unavailable', message: `discovery gave no answer for address ${address} within ${this.timeoutMs} ms (control plane ${this.state()})` })), this.timeoutMs);
      const onAbort = (): void => waiter.settle(err({ kind: 'unavailable', message: `lookup of address ${address} was cancelled` }));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  // State of the world for the subscribed names: an address left out of a push keeps its last answer.
  apply(answers: Map<string, AddressOwner | null>): void {
    for (const [address, owner] of answers) this.owners.set(address, owner);
    for (const waiter of [...this.waiters]) {
      const owner = this.owners.get(waiter.address);
      if (owner !== undefined) waiter.settle(ok(owner));
    }
  }

  snapshot(): Record<string, AddressOwner | null> {
    return Object.fromEntries(this.owners);
  }

  stop(): void {
    for (const waiter of [...this.waiters]) waiter.settle(err({ kind: 'unavailable', message: 'the sidecar is shutting down' }));
  }
}
