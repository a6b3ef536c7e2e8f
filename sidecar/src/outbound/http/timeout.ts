// Overall request timeout: from the first byte in until the last response byte out (an upgrade: until the tunnel opens).
import { toMeshError, UpstreamTimeoutError } from '../../errors.js';
import type { OutboundLayer, UpstreamResponse } from './types.js';
import { whenClosed } from '../../pipeline/when-closed.js';

export function timeoutLayer(defaultTimeoutMs: number): OutboundLayer {
  return (next) => (req) =>
    new Promise<UpstreamResponse>((resolve, reject) => {
      const ms = req.timeoutMs ?? defaultTimeoutMs;
      let answered = false;
      const timer = setTimeout(() => {
        const target = req.service ? `${req.service.name}.${req.service.namespace}` : req.authority;
        const error = new UpstreamTimeoutError(`outbound/timeout: no complete response from ${target} within ${ms} ms`);
        // Cancelling makes the forward layer send RST_STREAM(CANCEL), so the peer stops working on it too.
        req.cancel(error);
        if (!answered) reject(error);
      }, ms);
      next(req).then(
        (response) => {
          answered = true;
          if (req.upgrade !== null) clearTimeout(timer);
          else whenClosed(response.body, () => clearTimeout(timer));
          resolve(response);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(toMeshError(error, 'outbound'));
        },
      );
    });
}
