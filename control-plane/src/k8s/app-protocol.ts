// How a Kubernetes port speaks: its appProtocol, else Istio's port-name convention; '' leaves it to first-bytes detection.
import type { AppProtocol } from '../discovery/registry.js';

export function appProtocolOf(appProtocol: string | undefined): AppProtocol {
  switch (appProtocol?.toLowerCase()) {
    case 'http':
      return 'http';
    case 'http2':
    case 'h2c':
    case 'kubernetes.io/h2c':
      return 'http2';
    case 'grpc':
      return 'grpc';
    case 'tcp':
      return 'tcp';
    default:
      return '';
  }
}

// Istio's port naming convention (<protocol>[-<suffix>]). A Map, not an object: a port may be named "constructor".
export const PORT_NAME_PROTOCOLS: ReadonlyMap<string, AppProtocol> = new Map<string, AppProtocol>([
  ['http', 'http'],
  ['http2', 'http2'],
  ['h2c', 'http2'],
  ['grpc', 'grpc'],
  ['grpc-web', 'http'],
  ['tcp', 'tcp'],
  ['mongo', 'tcp'],
  ['mysql', 'tcp'],
  ['redis', 'tcp'],
  ['postgres', 'tcp'],
]);

export function portNameProtocol(name: string | undefined): AppProtocol {
  const lower = (name ?? '').toLowerCase();
  return PORT_NAME_PROTOCOLS.get(lower) ?? PORT_NAME_PROTOCOLS.get(lower.split('-')[0] ?? '') ?? '';
}

// A set appProtocol decides alone, as in Istio: one we do not know is detected, not second-guessed from the name.
export function portProtocol(port: { name?: string; appProtocol?: string }): AppProtocol {
  return port.appProtocol ? appProtocolOf(port.appProtocol) : portNameProtocol(port.name);
}
