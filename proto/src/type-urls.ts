// The resource types that travel on the discovery stream.
export const TYPE_URLS = {
  trustBundle: 'type.tsmesh.dev/tsmesh.discovery.v1.TrustBundle',
  endpoints: 'type.tsmesh.dev/tsmesh.discovery.v1.ServiceEndpoints',
} as const;

export type TypeUrl = (typeof TYPE_URLS)[keyof typeof TYPE_URLS];
