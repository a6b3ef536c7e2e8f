// The stream server's state: connected sidecars, running taps, and stats requests waiting for their answers.
import { randomUUID } from 'node:crypto';
import type { ControlPlaneMessage, RequestSeries, SidecarMessage, TapFilter, TapStreamMessage } from './protocol.js';

export interface SidecarSession {
  nodeId: string;
  spiffeId: string;
  service: string;
  namespace: string;
  connectedAt: number;
  send(message: ControlPlaneMessage): void;
}

export interface SidecarStats {
  nodeId: string;
  service: string;
  namespace: string;
  bounds: number[];
  series: RequestSeries[];
}

interface Tap {
  filter: TapFilter;
  deliver(message: TapStreamMessage): void;
}

interface StatsWaiter {
  waitingFor: Set<SidecarSession>;
  replies: SidecarStats[];
  finish(): void;
}

export class StreamHub {
  private readonly sidecars = new Set<SidecarSession>();
  private readonly taps = new Map<string, Tap>();
  private readonly statsWaiters = new Map<string, StatsWaiter>();

  // A sidecar that connects while a tap runs joins it, so a restarted or scaled-up instance is seen too.
  add(session: SidecarSession): void {
    this.sidecars.add(session);
    for (const [tapId, tap] of this.taps) session.send({ type: 'tap-start', tapId, filter: tap.filter });
  }

  remove(session: SidecarSession): void {
    this.sidecars.delete(session);
    for (const waiter of this.statsWaiters.values()) {
      if (waiter.waitingFor.delete(session) && waiter.waitingFor.size === 0) waiter.finish();
    }
  }

  list(): SidecarSession[] {
    return [...this.sidecars];
  }

  get tapCount(): number {
    return this.taps.size;
  }

  handle(session: SidecarSession, message: SidecarMessage): void {
    switch (message.type) {
      case 'hello':
        return;
      case 'tap-started':
        this.taps.get(message.tapId)?.deliver({ type: 'tapping', nodeId: session.nodeId, service: session.service, namespace: session.namespace });
        return;
      case 'tap-events': {
        const tap = this.taps.get(message.tapId);
        if (tap === undefined) return;
        for (const event of message.events) tap.deliver({ type: 'event', nodeId: session.nodeId, event });
        if (message.dropped > 0) tap.deliver({ type: 'dropped', nodeId: session.nodeId, count: message.dropped });
        return;
      }
      case 'stats': {
        const waiter = this.statsWaiters.get(message.requestId);
        if (waiter === undefined || !waiter.waitingFor.delete(session)) return;
        waiter.replies.push({ nodeId: session.nodeId, service: session.service, namespace: session.namespace, bounds: [...message.bounds], series: message.series });
        if (waiter.waitingFor.size === 0) waiter.finish();
        return;
      }
    }
  }

  // Every sidecar is asked and filters locally: the callers of a service are as much part of its traffic as its own instances.
  startTap(filter: TapFilter, deliver: (message: TapStreamMessage) => void): () => void {
    const tapId = randomUUID();
    this.taps.set(tapId, { filter, deliver });
    for (const session of this.sidecars) session.send({ type: 'tap-start', tapId, filter });
    return () => {
      if (!this.taps.delete(tapId)) return;
      for (const session of this.sidecars) session.send({ type: 'tap-stop', tapId });
    };
  }

  // Answers from the sidecars that reply within timeoutMs; a slow or gone sidecar is left out, not waited for.
  collectStats(timeoutMs: number): Promise<SidecarStats[]> {
    const requestId = randomUUID();
    return new Promise((resolve) => {
      const waiter: StatsWaiter = {
        waitingFor: new Set(this.sidecars),
        replies: [],
        finish: () => {
          clearTimeout(timer);
          this.statsWaiters.delete(requestId);
          resolve(waiter.replies);
        },
      };
      const timer = setTimeout(() => waiter.finish(), timeoutMs);
      this.statsWaiters.set(requestId, waiter);
      if (waiter.waitingFor.size === 0) return waiter.finish();
      for (const session of waiter.waitingFor) session.send({ type: 'stats-request', requestId });
    });
  }
}
