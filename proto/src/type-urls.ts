// The resource types that travel on the discovery stream.
export const TYPE_URLS = {
  trustBundle: 'type.tsmesh.dev/tsmesh.discovery.v1.TrustBundle',
  endpoints: 'type.tsmesh.dev/tsmesh.discovery.v1.ServiceEndpoints',
  // One resource for the sidecar's own service: MeshConfig, AuthorizationPolicies, RateLimitPolicy.
  inboundPolicy: 'type.tsmesh.dev/tsmesh.config.v1.InboundPolicy',
  // Per called service (same names as endpoints): its HTTPRoutes and DestinationPolicy.
  serviceRoutes: 'type.tsmesh.dev/tsmesh.config.v1.ServiceRoutes',
  // Per workload address "ip:port" a transparently intercepted app dialled: which service serves it, and how it speaks.
  workloadAddresses: 'type.tsmesh.dev/tsmesh.discovery.v1.WorkloadAddress',
} as const;

export type TypeUrl = (typeof TYPE_URLS)[keyof typeof TYPE_URLS];
