// tsmesh/1's connection-wide credit: the body bytes of all streams in flight together stay within one window.
import { CONNECTION_WINDOW, MAX_CREDIT } from './frames.js';

// A stream whose body waits for connection credit.
export interface CreditWaiter {
  resumeSending(): void;
}

// Credit comes back in batches: one WINDOW on stream 0 per quarter window read.
const GRANT_BATCH = CONNECTION_WINDOW / 4;

export class ConnectionWindow {
  // Body bytes this side may still send before the peer grants more.
  private sendCredit = CONNECTION_WINDOW;
  // Body bytes the peer may still send before this side grants more.
  private receiveCredit = CONNECTION_WINDOW;
  private toGrant = 0;
  // In the order they ran out, so credit goes to the longest waiter first. An array, not a Set: a
  // long-lived Set with entries coming and going keeps them all alive for the scavenger (stream-table.ts).
  private readonly waiting: CreditWaiter[] = [];

  get sendable(): number {
    return this.sendCredit;
  }

  spend(bytes: number): void {
    this.sendCredit -= bytes;
  }

  wait(stream: CreditWaiter): void {
    if (!this.waiting.includes(stream)) this.waiting.push(stream);
  }

  forget(stream: CreditWaiter): void {
    const at = this.waiting.indexOf(stream);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  // The peer granted credit. Returns a reason when that breaks the protocol.
  granted(increment: number): string | undefined {
    if (this.sendCredit + increment > MAX_CREDIT) return `connection credit above ${MAX_CREDIT} bytes`;
    this.sendCredit += increment;
    for (const stream of this.waiting.slice()) {
      if (this.sendCredit <= 0) break;
      this.forget(stream);
      stream.resumeSending();
    }
    return undefined;
  }

  // DATA arrived. Returns a reason when the peer sent more than it was granted.
  received(bytes: number): string | undefined {
    if (bytes > this.receiveCredit) return `DATA of ${bytes} bytes with ${this.receiveCredit} bytes of connection credit left`;
    this.receiveCredit -= bytes;
    return undefined;
  }

  // Bytes read by a stream's consumer, or dropped. Returns the credit to grant the peer now, or 0.
  consumed(bytes: number): number {
    this.toGrant += bytes;
    if (this.toGrant < GRANT_BATCH) return 0;
    const grant = this.toGrant;
    this.toGrant = 0;
    this.receiveCredit += grant;
    return grant;
  }
}
