// Fault injection: a route may delay or abort a share of its requests, to rehearse failures on purpose.
import type { FaultPlan } from '@tsmesh/proto';
import { FaultInjectedError } from '../../errors.js';
import { cancelReason, type OutboundHandler, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from './types.js';

export function faultLayer(random: () => number = Math.random): OutboundLayer {
  async function withFault(next: OutboundHandler, req: OutboundRequest, fault: FaultPlan): Promise<UpstreamResponse> {
    if (fault.delay && random() * 100 < fault.delay.percent) {
      const delay = fault.delay.ms;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        req.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      if (req.signal.aborted) throw cancelReason(req);
    }
    if (fault.abort && random() * 100 < fault.abort.percent) {
      throw new FaultInjectedError(`outbound/fault: route ${req.route?.name ?? ''} aborts ${fault.abort.percent}% of requests with ${fault.abort.status} (fault injection)`, fault.abort.status);
    }
    return next(req);
  }
  // Routes without faults (nearly all) pass straight through, without a promise of this layer's own.
  return (next) => (req) => {
    const fault = req.route?.fault;
    return fault ? withFault(next, req, fault) : next(req);
  };
}
