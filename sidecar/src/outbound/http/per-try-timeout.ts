// Per-try timeout: one try may take this long until the response starts; the overall deadline still rules.
import { UpstreamTimeoutError } from '../../errors.js';
import type { OutboundLayer } from './types.js';

export function perTryTimeoutLayer(): OutboundLayer {
  return (next) => (req) => {
    const ms = req.route?.perTryTimeoutMs;
    if (!ms) return next(req);
    const timer = setTimeout(() => {
      const error = new UpstreamTimeoutError(`outbound/per-try-timeout: try ${req.attempt} got no response from ${req.endpoint?.address ?? 'the peer'} within ${ms} ms`);
      error.perTry = true;
      req.cancel(error);
    }, ms);
    const clear = (): void => clearTimeout(timer);
    const pending = next(req);
    pending.then(clear, clear);
    return pending;
  };
}
