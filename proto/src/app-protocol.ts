// How an app port speaks, as a Kubernetes Service port's appProtocol says; '' means detect it from the first bytes.
export type AppProtocol = '' | 'http' | 'http2' | 'grpc' | 'tcp';

const APP_PROTOCOLS: ReadonlySet<string> = new Set<AppProtocol>(['', 'http', 'http2', 'grpc', 'tcp']);

export function isAppProtocol(value: string): value is AppProtocol {
  return APP_PROTOCOLS.has(value);
}
