// Bulkhead: a destination's concurrency limit, held until the response body ends, so one slow service cannot take all.
import { cancelReason, type OutboundLayer } from './types.js';
import { PoolOverflowError } from '../../errors.js';
import type { Destinations } from '../destinations.js';
import { serviceKey } from '../../discovery/endpoint-resolver.js';

export function bulkheadLayer(destinations: Destinations): OutboundLayer {
  return (next) => async (req) => {
    const backend = req.backend ?? req.service;
    if (!backend) return next(req);
    const destination = destinations.get(backend);
    const bulkhead = destination.bulkhead;
    if (!bulkhead) return next(req);
    const admitted = await bulkhead.acquire(req.signal);
    if (!admitted.ok) {
      if (req.signal.aborted) throw cancelReason(req);
      destination.counters.poolOverflow++;
      destinations.events.poolOverflow?.(destination.key);
      throw new PoolOverflowError(`outbound/pool: ${serviceKey(backend)} is at its limit (${bulkhead.active} in flight, ${bulkhead.pending} waiting): ${admitted.error.message}`);
    }
    const release = admitted.value;
    try {
      const response = await next(req);
      if (response.body.closed) release();
      else response.body.once('close', release);
      return response;
    } catch (error) {
      release();
      throw error;
    }
  };
}
