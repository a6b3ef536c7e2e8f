// Bulkhead per destination: cap concurrent requests and queue a few more, so one slow service cannot take all capacity.
import { err, ok } from '@tsmesh/proto';
import type { Result } from '@tsmesh/proto';
import type { CancelSignal } from '../pipeline/cancellation.js';

export interface BulkheadLimits {
  maxConcurrent: number;
  maxPending: number;
  // A queued request that waits longer gives up; unset waits until released or aborted.
  pendingTimeoutMs?: number;
}

export type BulkheadRejection = { kind: 'pending-full' | 'pending-timeout' | 'aborted'; message: string };

export type Release = () => void;

interface Waiter {
  settle(result: Result<Release, BulkheadRejection>): void;
}

function checkLimits(limits: BulkheadLimits): void {
  if (!Number.isInteger(limits.maxConcurrent) || limits.maxConcurrent < 1) throw new RangeError(`bulkhead: maxConcurrent must be a positive integer, got ${limits.maxConcurrent}`);
  if (!Number.isInteger(limits.maxPending) || limits.maxPending < 0) throw new RangeError(`bulkhead: maxPending must be an integer >= 0, got ${limits.maxPending}`);
  if (limits.pendingTimeoutMs !== undefined && !(limits.pendingTimeoutMs > 0)) throw new RangeError(`bulkhead: pendingTimeoutMs must be > 0, got ${limits.pendingTimeoutMs}`);
}

export class Bulkhead {
  private limits: BulkheadLimits;
  private running = 0;
  // A Set keeps insertion (FIFO) order and removes a timed-out or aborted waiter from the middle in O(1).
  private readonly queue = new Set<Waiter>();

  constructor(limits: BulkheadLimits) {
    checkLimits(limits);
    this.limits = { ...limits };
  }

  get active(): number {
    return this.running;
  }

  get pending(): number {
    return this.queue.size;
  }

  acquire(signal?: CancelSignal): Promise<Result<Release, BulkheadRejection>> {
    if (signal?.aborted) return Promise.resolve(err({ kind: 'aborted', message: 'bulkhead: request aborted before admission' }));
    if (this.running < this.limits.maxConcurrent && this.queue.size === 0) return Promise.resolve(ok(this.admit()));
    if (this.queue.size >= this.limits.maxPending) {
      return Promise.resolve(err({ kind: 'pending-full', message: `bulkhead: ${this.running} requests in flight (limit ${this.limits.maxConcurrent}) and ${this.queue.size} queued (limit ${this.limits.maxPending})` }));
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.settle(err({ kind: 'aborted', message: 'bulkhead: request aborted while queued' }));
      const waiter: Waiter = {
        settle: (result) => {
          if (!this.queue.delete(waiter)) return;
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(result);
        },
      };
      this.queue.add(waiter);
      const timeoutMs = this.limits.pendingTimeoutMs;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => waiter.settle(err({ kind: 'pending-timeout', message: `bulkhead: no slot within ${timeoutMs} ms (limit ${this.limits.maxConcurrent} in flight)` })), timeoutMs);
        timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  // A config push: raising maxConcurrent admits queued requests now; lowering it lets the excess drain.
  setLimits(limits: BulkheadLimits): void {
    checkLimits(limits);
    this.limits = { ...limits };
    this.drain();
  }

  private admit(): Release {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.running < this.limits.maxConcurrent) {
      const next = this.queue.values().next();
      if (next.done) return;
      // The slot is taken before settling so a synchronous acquire in between cannot overtake the queue.
      next.value.settle(ok(this.admit()));
    }
  }
}
