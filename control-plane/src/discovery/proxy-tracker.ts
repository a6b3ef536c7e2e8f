// What the control plane knows of every connected sidecar: who it is and what it ACKed, per type.
import type { ProxyStatus } from '@tsmesh/proto';

// SYNCED: the last version sent was ACKed. STALE: sent, not answered yet. NACKED: refused.
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED';

export interface TypeSyncStatus {
  typeUrl: string;
  versionSent: string;
  nonceSent: string;
  versionAcked: string;
  state: SyncState;
  error: string;
  since: number;
  // Subscribed resource names (empty for wildcard types).
  names: string[];
}

export interface ConnectedProxy {
  nodeId: string;
  spiffeId: string;
  service: string;
  namespace: string;
  inboundAddress: string;
  connectedAt: number;
  types: Map<string, TypeSyncStatus>;
}

export class ProxyTracker {
  private readonly proxies = new Map<string, ConnectedProxy>();

  add(proxy: ConnectedProxy): void {
    this.proxies.set(proxy.nodeId, proxy);
  }

  remove(nodeId: string, proxy: ConnectedProxy): void {
    // A reconnect may have replaced the entry already; only remove our own.
    if (this.proxies.get(nodeId) === proxy) this.proxies.delete(nodeId);
  }

  get(nodeId: string): ConnectedProxy | undefined {
    return this.proxies.get(nodeId);
  }

  list(): ConnectedProxy[] {
    return [...this.proxies.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  toProto(): ProxyStatus[] {
    return this.list().map((p) => ({
      node_id: p.nodeId,
      spiffe_id: p.spiffeId,
      service: p.service,
      namespace: p.namespace,
      inbound_address: p.inboundAddress,
      connected_unix_ms: p.connectedAt,
      types: [...p.types.values()].map((t) => ({
        type_url: t.typeUrl,
        version_sent: t.versionSent,
        version_acked: t.versionAcked,
        nonce_sent: t.nonceSent,
        state: t.state,
        error: t.error,
        since_unix_ms: t.since,
      })),
    }));
  }
}
