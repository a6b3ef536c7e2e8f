// Every failure the data plane answers for: one base class, a stable code and status per subclass.

export type MeshErrorCode =
  | 'MESH_ERR_BAD_REQUEST'
  | 'MESH_ERR_MALFORMED_REQUEST'
  | 'MESH_ERR_UNAUTHENTICATED'
  | 'MESH_ERR_FORBIDDEN'
  | 'MESH_ERR_MTLS_REQUIRED'
  | 'MESH_ERR_POLICY_PENDING'
  | 'MESH_ERR_NO_ROUTE'
  | 'MESH_ERR_NO_ENDPOINTS'
  | 'MESH_ERR_DISCOVERY_UNAVAILABLE'
  | 'MESH_ERR_UPSTREAM_CONNECT'
  | 'MESH_ERR_TLS_IDENTITY'
  | 'MESH_ERR_TLS_HANDSHAKE'
  | 'MESH_ERR_UPSTREAM_RESET'
  | 'MESH_ERR_UPSTREAM_TIMEOUT'
  | 'MESH_ERR_APP_UNAVAILABLE'
  | 'MESH_ERR_FAULT_INJECTED'
  | 'MESH_ERR_CIRCUIT_OPEN'
  | 'MESH_ERR_POOL_OVERFLOW'
  | 'MESH_ERR_RATE_LIMITED'
  | 'MESH_ERR_OVERLOADED'
  | 'MESH_ERR_INTERNAL';

// `message` is the reason sent to the caller: it names the layer ("outbound/connect: ...") and what failed.
export abstract class MeshError extends Error {
  abstract readonly code: MeshErrorCode;
  abstract readonly status: number;

  // Extra response headers a refusal carries (Retry-After for 429).
  headers: Record<string, string> | undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends MeshError {
  readonly code = 'MESH_ERR_BAD_REQUEST';
  readonly status = 400;
}

// The app's HTTP/1.1 could not be read; the status says how (400, 408, 417, 431, 501, 505), the reason where.
export class MalformedRequestError extends MeshError {
  readonly code = 'MESH_ERR_MALFORMED_REQUEST';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class UnauthenticatedError extends MeshError {
  readonly code = 'MESH_ERR_UNAUTHENTICATED';
  readonly status = 403;
}

export class ForbiddenError extends MeshError {
  readonly code = 'MESH_ERR_FORBIDDEN';
  readonly status = 403;
}

export class MtlsRequiredError extends MeshError {
  readonly code = 'MESH_ERR_MTLS_REQUIRED';
  readonly status = 403;
}

export class PolicyPendingError extends MeshError {
  readonly code = 'MESH_ERR_POLICY_PENDING';
  readonly status = 503;
}

export class NoRouteError extends MeshError {
  readonly code = 'MESH_ERR_NO_ROUTE';
  readonly status = 503;
}

export class NoEndpointsError extends MeshError {
  readonly code = 'MESH_ERR_NO_ENDPOINTS';
  readonly status = 503;
}

export class DiscoveryUnavailableError extends MeshError {
  readonly code = 'MESH_ERR_DISCOVERY_UNAVAILABLE';
  readonly status = 503;
}

export class UpstreamConnectError extends MeshError {
  readonly code = 'MESH_ERR_UPSTREAM_CONNECT';
  readonly status = 502;
}

export class TlsIdentityError extends MeshError {
  readonly code = 'MESH_ERR_TLS_IDENTITY';
  readonly status = 502;
}

export class TlsHandshakeError extends MeshError {
  readonly code = 'MESH_ERR_TLS_HANDSHAKE';
  readonly status = 502;
}

export class UpstreamResetError extends MeshError {
  readonly code = 'MESH_ERR_UPSTREAM_RESET';
  readonly status = 502;
  // REFUSED_STREAM: the peer guarantees it did not process the request (RFC 9113 8.7), so any method may retry.
  refusedStream = false;
}

export class UpstreamTimeoutError extends MeshError {
  readonly code = 'MESH_ERR_UPSTREAM_TIMEOUT';
  readonly status = 504;
  // Set when one try ran out of time rather than the whole request.
  perTry = false;
}

export class AppUnavailableError extends MeshError {
  readonly code = 'MESH_ERR_APP_UNAVAILABLE';
  readonly status = 502;
}

// A route's fault injection answered instead of the service; the status is the route's choice.
export class FaultInjectedError extends MeshError {
  readonly code = 'MESH_ERR_FAULT_INJECTED';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class CircuitOpenError extends MeshError {
  readonly code = 'MESH_ERR_CIRCUIT_OPEN';
  readonly status = 503;
}

export class PoolOverflowError extends MeshError {
  readonly code = 'MESH_ERR_POOL_OVERFLOW';
  readonly status = 503;
}

export class RateLimitedError extends MeshError {
  readonly code = 'MESH_ERR_RATE_LIMITED';
  readonly status = 429;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    // Whole seconds, rounded up: a client that waits that long finds a token.
    this.headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  }
}

export class OverloadedError extends MeshError {
  readonly code = 'MESH_ERR_OVERLOADED';
  readonly status = 503;
}

// A bug in the proxy itself; still answered, never a hang.
export class InternalError extends MeshError {
  readonly code = 'MESH_ERR_INTERNAL';
  readonly status = 500;
}

export function isMeshError(value: unknown): value is MeshError {
  return value instanceof MeshError;
}

// Anything thrown that is not a MeshError is a bug; wrap it so the caller still gets an answer.
export function toMeshError(value: unknown, layer: string): MeshError {
  if (value instanceof MeshError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new InternalError(`${layer}: unexpected failure: ${message}`, { cause: value });
}
