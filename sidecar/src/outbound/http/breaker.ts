// Circuit breaker and outlier detection: a failing destination is refused fast (when its policy sets a breaker), a failing endpoint is ejected.
import { CircuitOpenError, MeshError, TlsHandshakeError, UpstreamConnectError, UpstreamResetError, UpstreamTimeoutError, toMeshError } from '../../errors.js';
import type { Destination, Destinations } from '../destinations.js';
import { serviceKey, type ServiceEndpoint } from '../../discovery/endpoint-resolver.js';
import { MESH_ERROR_HEADER } from '../../errors-respond.js';
import type { OutboundLayer, UpstreamResponse } from './types.js';

// Gateway errors say the endpoint, not the request, is the problem (Envoy's consecutive_gateway_failure).
function isGatewayError(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

// For the log line when the breaker moves: what the last try came back with, and from where.
function describeOutcome(response: UpstreamResponse | undefined, error: unknown, endpoint: ServiceEndpoint): string {
  if (response) {
    const meshError = response.headers[MESH_ERROR_HEADER];
    return `${response.status}${typeof meshError === 'string' ? ` ${meshError}` : ''} from ${endpoint.address}`;
  }
  return `${error instanceof Error ? error.message : String(error)}`.slice(0, 300);
}

function isEndpointFailure(error: unknown): boolean {
  return error instanceof UpstreamConnectError || error instanceof TlsHandshakeError || error instanceof UpstreamResetError || (error instanceof UpstreamTimeoutError && error.perTry);
}

export function breakerLayer(destinations: Destinations): OutboundLayer {
  return (next) => (req) => {
    const backend = req.backend ?? req.service;
    const endpoint = req.endpoint;
    if (!backend || !endpoint) return next(req);
    let destination: Destination;
    try {
      destination = destinations.get(backend);
    } catch (error) {
      return Promise.reject(toMeshError(error, 'outbound/breaker'));
    }
    const breaker = destination.breaker;
    if (breaker) {
      const admission = breaker.tryAcquire();
      if (!admission.allowed) {
        destination.counters.breakerRejected++;
        return Promise.reject(new CircuitOpenError(`outbound/breaker: the circuit to ${serviceKey(backend)} is open after repeated failures; next probe in ${Math.ceil(admission.retryAfterMs)} ms`));
      }
    }
    const stateBefore = breaker?.state;
    const wasEjected = destination.outliers.isEjected(endpoint.address);
    // State changes become events (metrics) once, where they happen.
    const report = (response: UpstreamResponse | undefined, error: unknown): void => {
      const events = destinations.events;
      const state = breaker?.state;
      if (state !== stateBefore && state !== undefined) events.circuitState?.(destination.key, state, describeOutcome(response, error, endpoint));
      if (!wasEjected && destination.outliers.isEjected(endpoint.address)) events.ejection?.(destination.key);
    };
    // Not async: an async function's own promise and its await are measurable work on every request.
    return next(req).then(
      (response) => {
        const failed = isGatewayError(response.status);
        destination.outliers.record(endpoint.address, failed ? 'gateway-error' : 'success');
        if (failed) breaker?.onFailure();
        else breaker?.onSuccess();
        report(response, undefined);
        return response;
      },
      (error: unknown) => {
        if (isEndpointFailure(error)) {
          destination.outliers.record(endpoint.address, 'gateway-error');
          breaker?.onFailure();
        } else if (error instanceof MeshError && !(error instanceof UpstreamTimeoutError)) {
          // A refusal below (pool overflow) is not the destination failing.
          breaker?.onSuccess();
        }
        report(undefined, error);
        throw error;
      },
    );
  };
}
