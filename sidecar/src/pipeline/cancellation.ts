// A request's cancellation signal without an AbortController: most requests are never cancelled.
// Node 20 builds a full EventTarget for every AbortController (~2 % of a sidecar's CPU per request in the
// profile); this keeps the part of AbortSignal the pipeline uses, so an AbortSignal still fits wherever it fits.

// The subset of AbortSignal that request waits (discovery, bulkhead queue, retry backoff) rely on.
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  // As AbortSignal: a listener added after the abort never runs, and each listener runs once.
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    const listeners = (this.listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    // Usually the last one added goes first; pop() leaves no array behind, as splice() does.
    if (listeners[listeners.length - 1] === listener) listeners.pop();
    else {
      const i = listeners.indexOf(listener);
      if (i >= 0) listeners.splice(i, 1);
    }
  }

  // The first reason wins; later calls do nothing. A throwing listener does not stop the others.
  cancel(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
