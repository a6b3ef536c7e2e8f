// Public surface of the wire contract: loaders, generated message types, identity helpers.
export { meshProtos } from './load.js';
export { TYPE_URLS, type TypeUrl } from './type-urls.js';
export {
  DEFAULT_TRUST_DOMAIN,
  formatSpiffeId,
  parseSpiffeId,
  isValidName,
  isValidTrustDomain,
  spiffeIdsFromSubjectAltName,
  expectControlPlane,
  type WorkloadIdentity,
  type ParseResult,
} from './identity/spiffe.js';
export {
  generateKeyPair,
  createCsr,
  parseCsr,
  buildCertificate,
  newSerial,
  certificateInfo,
  splitPemBundle,
  type KeyPair,
  type CsrRequest,
  type ParsedCsr,
  type CertificateSpec,
  type CertificateInfo,
} from './identity/x509.js';
export type { DiscoveryRequest, DiscoveryRequest__Output } from './generated/tsmesh/discovery/v1/DiscoveryRequest.js';
export type { DiscoveryResponse, DiscoveryResponse__Output } from './generated/tsmesh/discovery/v1/DiscoveryResponse.js';
export type { Resource, Resource__Output } from './generated/tsmesh/discovery/v1/Resource.js';
export type { Node, Node__Output } from './generated/tsmesh/discovery/v1/Node.js';
export type { Endpoint, Endpoint__Output } from './generated/tsmesh/discovery/v1/Endpoint.js';
export type { ServiceEndpoints, ServiceEndpoints__Output } from './generated/tsmesh/discovery/v1/ServiceEndpoints.js';
export type { TrustBundle, TrustBundle__Output } from './generated/tsmesh/discovery/v1/TrustBundle.js';
export type { AggregatedDiscoveryHandlers } from './generated/tsmesh/discovery/v1/AggregatedDiscovery.js';
export type { AggregatedDiscoveryClient } from './generated/tsmesh/discovery/v1/AggregatedDiscovery.js';
export type { IdentityHandlers, IdentityClient } from './generated/tsmesh/identity/v1/Identity.js';
export type { CreateCertificateRequest__Output } from './generated/tsmesh/identity/v1/CreateCertificateRequest.js';
export type { CreateCertificateResponse, CreateCertificateResponse__Output } from './generated/tsmesh/identity/v1/CreateCertificateResponse.js';
export type { AdminHandlers, AdminClient } from './generated/tsmesh/admin/v1/Admin.js';
export type { CreateJoinTokenRequest__Output } from './generated/tsmesh/admin/v1/CreateJoinTokenRequest.js';
export type { CreateJoinTokenResponse, CreateJoinTokenResponse__Output } from './generated/tsmesh/admin/v1/CreateJoinTokenResponse.js';
export type { ProxyStatus, ProxyStatus__Output } from './generated/tsmesh/admin/v1/ProxyStatus.js';
export type { ProxyTypeStatus } from './generated/tsmesh/admin/v1/ProxyTypeStatus.js';
export type { ListProxiesResponse, ListProxiesResponse__Output } from './generated/tsmesh/admin/v1/ListProxiesResponse.js';
export { ok, err, type Result } from './result.js';
export { createLogger, type Logger, type LogLevel } from './log.js';
export { parseDuration } from './duration.js';
export {
  API_GROUP,
  API_VERSION,
  durationMs,
  KINDS,
  findKind,
  validateResource,
  formatPath,
  parseResourceDocuments,
  formatDocumentError,
  type ObjectMeta,
  type KindDefinition,
  type MeshResource,
  type MeshConfigResource,
  type HTTPRouteResource,
  type DestinationPolicyResource,
  type AuthorizationPolicyResource,
  type RateLimitPolicyResource,
  type ValidationIssue,
  type DocumentError,
  type ParsedResource,
  type MeshConfigSpec,
  type HTTPRouteSpec,
  type DestinationPolicySpec,
  type AuthorizationPolicySpec,
  type RateLimitPolicySpec,
} from './resources/index.js';
export type { ChangeResponse, ChangeResponse__Output } from './generated/tsmesh/admin/v1/ChangeResponse.js';
export type { ResourceChange } from './generated/tsmesh/admin/v1/ResourceChange.js';
export type { GetResourcesResponse__Output } from './generated/tsmesh/admin/v1/GetResourcesResponse.js';
export type { HistoryResponse__Output } from './generated/tsmesh/admin/v1/HistoryResponse.js';
export type { HistoryEntry } from './generated/tsmesh/admin/v1/HistoryEntry.js';
export { decodeInboundPolicy, decodeServiceRoutes, type InboundPolicy, type ServiceRoutes } from './resources/index.js';
export {
  authorize,
  pathMatches,
  routeTable,
  defaultPlan,
  pickBackend,
  DEFAULT_RETRY,
  type AuthzRequest,
  type AuthzDecision,
  type RouteTable,
  type RequestView,
  type RetryCondition,
  type RetryPlan,
  type FaultPlan,
  type WeightedBackend,
  type RoutePlan,
  type ServiceRef,
} from './policy/index.js';
export { decodeExportTraceServiceRequest, type DecodedSpan, type DecodedLink, type SpanKindName } from './otlp/decode.js';
export type { TapFilter, TapEvent, RequestSeries, SidecarMessage, ControlPlaneMessage, TapStreamMessage } from './tap-protocol.js';
export { frameText, jsonObject } from './tap-protocol.js';
export { parseHostPort } from './host-port.js';
export { isAppProtocol, type AppProtocol } from './app-protocol.js';
