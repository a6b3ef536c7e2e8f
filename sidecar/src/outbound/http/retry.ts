// Retry layer: tries again on the conditions the route allows, spending from the destination's budget.
import { constants as h2c } from 'node:http2';
import type { MeshError} from '../../errors.js';
import { CircuitOpenError, NoEndpointsError, PoolOverflowError, TlsHandshakeError, UpstreamConnectError, UpstreamResetError, UpstreamTimeoutError, toMeshError, NoRouteError, DiscoveryUnavailableError } from '../../errors.js';
import { serviceKey, type ServiceName } from '../../discovery/endpoint-resolver.js';
import { DEFAULT_RETRY, type RetryCondition, type RetryPlan } from '@tsmesh/proto';
import { ReplayableBody, DEFAULT_REPLAY_LIMIT_BYTES } from './replay-body.js';
import { retryDelayMs } from '../../resilience/retry-backoff.js';
import { cancelReason, type OutboundHandler, type OutboundLayer, type OutboundRequest, type UpstreamResponse } from './types.js';
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
  // Not async: most requests never retry, and an async function's promise, state and await per request are measurable work.
  return (next) => (req) => {
    const plan: RetryPlan = req.route?.retry ?? DEFAULT_RETRY;
    const target = req.backend ?? req.service;
    if (!target) return next(req);
    let budget: RetryBudgetLike;
    try {
      budget = hooks.budget(target);
    } catch (error) {
      return Promise.reject(toMeshError(error, 'outbound/retry'));
    }
    budget.recordRequest();
    // Upgrades become tunnels; there is nothing sensible to replay.
    if (plan.retries === 0 || req.upgrade !== null) return next(req);
    const body = req.body === null ? null : new ReplayableBody(req.body, options.replayLimitBytes ?? DEFAULT_REPLAY_LIMIT_BYTES);
    return new RetryingRequest(next, req, plan, hooks, serviceKey(target), budget, body, random).try(1);
  };
}

// One request's tries: each outcome is answered, refused, or tried again after a backoff.
class RetryingRequest {
  private readonly idempotent: boolean;

  constructor(
    private readonly next: OutboundHandler,
    private readonly req: OutboundRequest,
    private readonly plan: RetryPlan,
    private readonly hooks: RetryHooks,
    private readonly destination: string,
    private readonly budget: RetryBudgetLike,
    private readonly body: ReplayableBody | null,
    private readonly random: () => number,
  ) {
    this.idempotent = plan.retryNonIdempotent || IDEMPOTENT.has(req.method);
  }

  try(attempt: number): Promise<UpstreamResponse> {
    const req = this.req;
    let tryReq: OutboundRequest;
    // The first try runs on the request itself unless a per-try timeout needs a signal of its own:
    // most requests never retry, and a child request per request is measurable work.
    if (attempt === 1 && !req.route?.perTryTimeoutMs) {
      req.body = this.body ? this.body.open() : null;
      tryReq = req;
    } else {
      tryReq = childRequest(req, attempt, this.body ? this.body.open() : null);
    }
    return this.next(tryReq).then(
      (response) => {
        req.endpoint = tryReq.endpoint;
        if (!(this.idempotent && statusAllows(this.plan.on, response.status)) || attempt > this.plan.retries || !this.canRetry()) return response;
        // Nobody will read this answer: tell the peer to stop sending it.
        response.body.close(h2c.NGHTTP2_CANCEL);
        return this.again(attempt, tryReq, `status ${response.status}`);
      },
      (caught: unknown) => {
        const error = toMeshError(caught, 'outbound/retry');
        req.endpoint = tryReq.endpoint;
        if (req.signal.aborted) throw cancelReason(req);
        if (isFinal(error) || attempt > this.plan.retries) throw error;
        const { condition, reachedPeer } = classify(error);
        if (condition === 'none' || !conditionAllows(this.plan.on, condition) || (reachedPeer && !this.idempotent) || !this.canRetry()) throw error;
        return this.again(attempt, tryReq, String(condition));
      },
    );
  }

  private async again(attempt: number, failedTry: OutboundRequest, why: string): Promise<UpstreamResponse> {
    const req = this.req;
    if (failedTry.endpoint) (req.avoid ??= new Set()).add(failedTry.endpoint.address);
    this.hooks.onRetry?.(this.destination, attempt + 1, why);
    // Full jitter keeps a fleet of retrying callers from moving in lockstep.
    await sleep(retryDelayMs(attempt - 1, this.plan.backoffBaseMs, this.plan.backoffMaxMs, this.random), req.signal);
    if (req.signal.aborted) throw cancelReason(req);
    return this.try(attempt + 1);
  }

  private canRetry(): boolean {
    if (this.body && !this.body.replayable) return false;
    if (!this.budget.tryWithdraw()) {
      this.hooks.onBudgetExhausted?.(this.destination);
      return false;
    }
    return true;
  }
}

// Refusals made on purpose by this sidecar are answers, not accidents: retrying them adds load for nothing.
function isFinal(error: MeshError): boolean {
  return error instanceof CircuitOpenError || error instanceof PoolOverflowError || error instanceof NoEndpointsError || error instanceof NoRouteError || error instanceof DiscoveryUnavailableError;
}
