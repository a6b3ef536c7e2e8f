// Configuration resources: one TypeBox schema per kind is the type, the validator and the CRD schema.
export { API_GROUP, API_VERSION, durationMs, type ObjectMeta } from './common.js';
export { KINDS, findKind, type KindDefinition } from './kinds.js';
export { validateResource, formatPath, type MeshResource, type MeshConfigResource, type HTTPRouteResource, type DestinationPolicyResource, type AuthorizationPolicyResource, type RateLimitPolicyResource, type ValidationIssue } from './validate.js';
export { parseResourceDocuments, formatDocumentError, type DocumentError, type ParsedResource } from './yaml-documents.js';
export type { MeshConfigSpec } from './mesh-config.js';
export type { HTTPRouteSpec } from './http-route.js';
export type { DestinationPolicySpec } from './destination-policy.js';
export type { AuthorizationPolicySpec } from './authorization-policy.js';
export type { RateLimitPolicySpec } from './rate-limit-policy.js';
export { decodeInboundPolicy, decodeServiceRoutes, type InboundPolicy, type ServiceRoutes } from './pushed.js';
