// The certificate authority: init and load from the data directory, sign workloads, issue the mesh's own certificates.
export {
  CertificateAuthority,
  type CertificateAuthorityOptions,
  type SignErrorKind,
  type SignError,
  type SignWorkloadOptions,
  type SignedWorkload,
  type IssuedCertificate,
  type ServingCertificateRequest,
  type AdminCertificateRequest,
} from './authority.js';
export { initCertificateAuthority, loadCertificateAuthority, caDir, CA_FILES, type CaMetadata, type InitCertificateAuthorityOptions, type LoadCertificateAuthorityOptions } from './store.js';
export { type SuppliedCa, type CaMaterial } from './chain.js';
export { CaSetupError } from './errors.js';
export { ADMIN_SA, MESH_SYSTEM_NAMESPACE, adminSpiffeId, isAdminIdentity } from './admin-identity.js';
export { DEFAULT_WORKLOAD_TTL_MS, DEFAULT_MAX_WORKLOAD_TTL_MS, DEFAULT_ROOT_TTL_MS, MAX_CLOCK_SKEW_MS } from './lifetime.js';
