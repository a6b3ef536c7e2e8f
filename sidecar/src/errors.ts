// Every failure the data plane answers for: one base class, a stable code and status per subclass.

export type MeshErrorCode =
  | 'MESH_ERR_BAD_REQUEST'
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
  | 'MESH_ERR_INTERNAL';

// `message` is the reason sent to the caller: it names the layer ("outbound/connect: ...") and what failed.
export abstract class MeshError extends Error {
  abstract readonly code: MeshErrorCode;
  abstract readonly status: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends MeshError {
  readonly code = 'MESH_ERR_BAD_REQUEST';
  readonly status = 400;
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
}

export class UpstreamTimeoutError extends MeshError {
  readonly code = 'MESH_ERR_UPSTREAM_TIMEOUT';
  readonly status = 504;
}

export class AppUnavailableError extends MeshError {
  readonly code = 'MESH_ERR_APP_UNAVAILABLE';
  readonly status = 502;
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
