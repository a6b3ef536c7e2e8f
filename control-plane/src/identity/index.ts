// The Identity gRPC service and the in-memory certificate provider for mTLS servers that rotate.
export { createIdentityHandlers, type IdentityServiceOptions } from './service.js';
export { MemoryCertificateProvider, type CertificateUpdate } from './cert-provider.js';
export type { TokenReviewer, TokenReviewStatus } from './service-account-token.js';
