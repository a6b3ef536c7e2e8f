// Which service owns each workload address the app dialled transparently: subscribed on first use, answered from then on.
import { ok, type Result } from '@tsmesh/proto';
import type { AddressOwner, ResolveFailure } from './endpoint-resolver.js';
import { WaitList } from './wait-list.js';
import type { CancelSignal } from '../pipeline/cancellation.js';

export class AddressTable {
  private readonly owners = new Map<string, AddressOwner | null>();
  private readonly subscribed = new Set<string>();
  private readonly waiters = new WaitList<AddressOwner | null>();

  constructor(
    // Called when the subscribed set grows, to send the new subscription.
    private readonly subscribe: () => void,
    private readonly timeoutMs: number,
    private readonly state: () => string,
  ) {}

  names(): string[] {
    return [...this.subscribed].sort();
  }

  resolve(address: string, signal?: CancelSignal): Promise<Result<AddressOwner | null, ResolveFailure>> {
    const owner = this.owners.get(address);
    if (owner !== undefined) return Promise.resolve(ok(owner));
    if (!this.subscribed.has(address)) {
      this.subscribed.add(address);
      this.subscribe();
    }
    return this.waiters.wait(address, `address ${address}`, this.timeoutMs, this.state, signal);
  }

  // State of the world for the subscribed names: an address left out of a push keeps its last answer.
  apply(answers: Map<string, AddressOwner | null>): void {
    for (const [address, owner] of answers) this.owners.set(address, owner);
    this.waiters.settle((address) => {
      const owner = this.owners.get(address);
      return owner === undefined ? undefined : ok(owner);
    });
  }

  // undefined: not answered yet; null: outside the mesh.
  ownerOf(address: string): AddressOwner | null | undefined {
    return this.owners.get(address);
  }

  snapshot(): Record<string, AddressOwner | null> {
    return Object.fromEntries(this.owners);
  }

  stop(): void {
    this.waiters.stop();
  }
}
