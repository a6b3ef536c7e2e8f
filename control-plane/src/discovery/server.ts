// The aggregated discovery service: one ProxyStream per connected sidecar.
import type { AggregatedDiscoveryHandlers } from '@tsmesh/proto';
import { ProxyStream, type DiscoveryCall, type DiscoveryContext } from './stream.js';

export function createDiscoveryHandlers(ctx: DiscoveryContext): AggregatedDiscoveryHandlers {
  return {
    StreamResources(call: DiscoveryCall): void {
      new ProxyStream(call, ctx).start();
    },
  };
}
