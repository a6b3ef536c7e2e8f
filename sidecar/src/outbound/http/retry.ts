// Retry layer: tries again on the conditions the route allows, spending from the destination's budget.
import { constants as h2c } from 'node:http2';
import type { MeshError} from '../../errors.js';
import { CircuitOpenError, NoEndpointsError, PoolOverflowError, TlsHandshakeError, UpstreamConnectError, UpstreamResetError, UpstreamTimeoutError, toMeshError, NoRouteError, DiscoveryUnavailableError } from '../../errors.js';
import { serviceKey, type ServiceName } from '../../discovery/endpoint-resolver.js';
import { DEFAULT_RETRY, type RetryCondition, type RetryPlan } from '@tsmesh/proto';
import { ReplayableBody, DEFAULT_REPLAY_LIMIT_BYTES } from './replay-body.js';
import { retryDelayMs } from '../../resilience/retry-backoff.js';
import { cancelReason, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from './types.js';
import { Cancellation, type CancelSignal } from '../../pipeline/cancellation.js';

export interface RetryBudgetLike {
  recordRequest(): void;
  tryWithdraw(): boolean;
}

export interface RetryHooks {
  budget(destination: ServiceName): RetryBudgetLike;
  onRetry?(destination: string, attempt: number, why: string): void;
  onBudgetExhausted?(destination: string): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

// What kind of failure this was, in the vocabulary of route retry conditions.
function classify(error: MeshError): { condition: RetryCondition | 'per-try-timeout' | 'none'; reachedPeer: boolean } {
  if (error instanceof UpstreamConnectError || error instanceof TlsHandshakeError) return { condition: 'connect-failure', reachedPeer: false };
  if (error instanceof UpstreamResetError) return error.refusedStream ? { condition: 'refused-stream', reachedPeer: false } : { condition: 'reset', reachedPeer: true };
  if (error instanceof UpstreamTimeoutError && error.perTry) return { condition: 'per-try-timeout', reachedPeer: true };
  return { condition: 'none', reachedPeer: true };
}

function conditionAllows(on: ReadonlySet<RetryCondition>, condition: RetryCondition | 'per-try-timeout'): boolean {
  if (on.has(condition as RetryCondition)) return true;
  if (condition === 'connect-failure' || condition === 'reset' || condition === 'per-try-timeout') return on.has('gateway-error') || on.has('5xx') || (condition === 'per-try-timeout' && on.has('reset'));
  return false;
}

function statusAllows(on: ReadonlySet<RetryCondition>, status: number): boolean {
  return on.has(status) || (on.has('5xx') && status >= 500) || (on.has('gateway-error') && (status === 502 || status === 503 || status === 504));
}

function childRequest(parent: OutboundRequest, attempt: number, body: OutboundRequest['body']): OutboundRequest {
  const cancellation = new Cancellation();
  const onParentAbort = (): void => cancellation.cancel(parent.signal.reason);
  if (parent.signal.aborted) onParentAbort();
  else parent.signal.addEventListener('abort', onParentAbort, { once: true });
  return {
    ...parent,
    body,
    attempt,
    endpoint: null,
    signal: cancellation,
    cancel: (reason) => cancellation.cancel(reason),
  };
}

function sleep(ms: number, signal: CancelSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function retryLayer(hooks: RetryHooks, options: { random?: () => number; replayLimitBytes?: number } = {}): OutboundLayer {
  const random = options.random ?? Math.random;
  return (next) => async (req) => {
    const plan: RetryPlan = req.route?.retry ?? DEFAULT_RETRY;
    const target = req.backend ?? req.service;
    if (!target) return next(req);
    const destination = serviceKey(target);
    const budget = hooks.budget(target);
    budget.recordRequest();
    // Upgrades become tunnels; there is nothing sensible to replay.
    if (plan.retries === 0 || req.upgrade !== null) return next(req);
    const idempotent = plan.retryNonIdempotent || IDEMPOTENT.has(req.method);
    const body = req.body === null ? null : new ReplayableBody(req.body, options.replayLimitBytes ?? DEFAULT_REPLAY_LIMIT_BYTES);
    // The first try runs on the request itself unless a per-try timeout needs a signal of its own:
    // most requests never retry, and a child request per request is measurable work.
    const ownFirstTry = !req.route?.perTryTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      let tryReq: OutboundRequest;
      if (attempt === 1 && ownFirstTry) {
        req.body = body ? body.open() : null;
        tryReq = req;
      } else {
        tryReq = childRequest(req, attempt, body ? body.open() : null);
      }
      let why: string;
      try {
        const response: UpstreamResponse = await next(tryReq);
        req.endpoint = tryReq.endpoint;
        if (!(idempotent && statusAllows(plan.on, response.status)) || attempt > plan.retries || !canRetry()) return response;
        why = `status ${response.status}`;
        // Nobody will read this answer: tell the peer to stop sending it.
        response.body.close(h2c.NGHTTP2_CANCEL);
      } catch (caught) {
        const error = toMeshError(caught, 'outbound/retry');
        req.endpoint = tryReq.endpoint;
        if (req.signal.aborted) throw cancelReason(req);
        if (isFinal(error) || attempt > plan.retries) throw error;
        const { condition, reachedPeer } = classify(error);
        if (condition === 'none' || !conditionAllows(plan.on, condition) || (reachedPeer && !idempotent) || !canRetry()) throw error;
        why = String(condition);
      }
      if (tryReq.endpoint) req.avoid.add(tryReq.endpoint.address);
      hooks.onRetry?.(destination, attempt + 1, why);
      // Full jitter keeps a fleet of retrying callers from moving in lockstep.
      await sleep(retryDelayMs(attempt - 1, plan.backoffBaseMs, plan.backoffMaxMs, random), req.signal);
      if (req.signal.aborted) throw cancelReason(req);
    }

    function canRetry(): boolean {
      if (body && !body.replayable) return false;
      if (!budget.tryWithdraw()) {
        hooks.onBudgetExhausted?.(destination);
        return false;
      }
      return true;
    }
  };
}

// Refusals made on purpose by this sidecar are answers, not accidents: retrying them adds load for nothing.
function isFinal(error: MeshError): boolean {
  return error instanceof CircuitOpenError || error instanceof PoolOverflowError || error instanceof NoEndpointsError || error instanceof NoRouteError || error instanceof DiscoveryUnavailableError;
}
