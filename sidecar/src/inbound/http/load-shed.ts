// Load shedding: when this sidecar itself is overloaded, refuse new work early instead of slowing everyone.
import { OverloadedError } from '../../errors.js';
import type { LoadShedder } from '../../resilience/load-shedder.js';
import type { InboundLayer } from './types.js';

export function loadShedLayer(shedder: LoadShedder, onShed?: () => void): InboundLayer {
  return (next) => (req) => {
    const decision = shedder.enter();
    if (!decision.ok) {
      onShed?.();
      return Promise.reject(new OverloadedError(`inbound/load-shed: the sidecar is overloaded (${decision.reason}); try again shortly`));
    }
    const leave = decision.leave;
    return next(req).then(
      (response) => {
        // In flight until the response body is done, not just until its headers.
        const body = response.body;
        if (Buffer.isBuffer(body) || body.destroyed || body.readableEnded) leave();
        else body.once('close', leave);
        return response;
      },
      (error: unknown) => {
        leave();
        throw error;
      },
    );
  };
}
