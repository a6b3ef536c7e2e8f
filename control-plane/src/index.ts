// Public surface of the control plane package, for the launcher, tests and embedding.
export { startControlPlaneServer, controlPlaneSpiffeId, CONTROL_PLANE_SA, type ControlPlaneOptions, type RunningControlPlane } from './server.js';
export { AdminClient, AdminApiError } from './cli/admin-client.js';
export { readMeshctlConfig, writeMeshctlConfig, defaultConfigPath, type MeshctlConfig } from './cli/client-config.js';
export { EndpointRegistry, type RegisteredEndpoint } from './discovery/registry.js';
export { ProxyTracker, type SyncState } from './discovery/proxy-tracker.js';
export { initCertificateAuthority, loadCertificateAuthority, CertificateAuthority } from './ca/index.js';
export { SIDECAR_NODE_OPTIONS } from './k8s/sidecar-spec.js';
// Where meshctl looks for the HTTP and stream servers when given no flag for them.
export { defaultHttpServer } from './cli/commands-traces.js';
export { streamServerAddress } from './tap/client.js';
