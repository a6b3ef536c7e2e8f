// Bulkhead: a destination's concurrency limit, held until the response body ends, so one slow service cannot take all.
import { cancelReason, type OutboundHandler, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from './types.js';
import { PoolOverflowError, toMeshError } from '../../errors.js';
import type { Destination, Destinations } from '../destinations.js';
import type { Bulkhead } from '../../resilience/bulkhead.js';
import { whenClosed } from '../../pipeline/when-closed.js';

export function bulkheadLayer(destinations: Destinations): OutboundLayer {
  async function withSlot(next: OutboundHandler, req: OutboundRequest, destination: Destination, bulkhead: Bulkhead): Promise<UpstreamResponse> {
    const admitted = await bulkhead.acquire(req.signal);
    if (!admitted.ok) {
      if (req.signal.aborted) throw cancelReason(req);
      destination.counters.poolOverflow++;
      destinations.events.poolOverflow?.(destination.key);
      throw new PoolOverflowError(`outbound/pool: ${destination.key} is at its limit (${bulkhead.active} in flight, ${bulkhead.pending} waiting): ${admitted.error.message}`);
    }
    const release = admitted.value;
    try {
      const response = await next(req);
      whenClosed(response.body, release);
      return response;
    } catch (error) {
      release();
      throw error;
    }
  }
  return (next) => (req) => {
    const backend = req.backend ?? req.service;
    if (!backend) return next(req);
    let destination: Destination;
    try {
      destination = destinations.get(backend);
    } catch (error) {
      return Promise.reject(toMeshError(error, 'outbound/bulkhead'));
    }
    // Most destinations set no limit: no promise of our own for them.
    return destination.bulkhead ? withSlot(next, req, destination, destination.bulkhead) : next(req);
  };
}
