// Original file: proto/protos/tsmesh/discovery.proto

import type { AppPort as _tsmesh_discovery_v1_AppPort, AppPort__Output as _tsmesh_discovery_v1_AppPort__Output } from '../../../tsmesh/discovery/v1/AppPort.js';

export interface Node {
  'id'?: (string);
  'service'?: (string);
  'namespace'?: (string);
  'inbound_address'?: (string);
  'sidecar_version'?: (string);
  'labels'?: ({[key: string]: string});
  'app_ports'?: (_tsmesh_discovery_v1_AppPort)[];
  'pod_ip'?: (string);
}

export interface Node__Output {
  'id': (string);
  'service': (string);
  'namespace': (string);
  'inbound_address': (string);
  'sidecar_version': (string);
  'labels': ({[key: string]: string});
  'app_ports': (_tsmesh_discovery_v1_AppPort__Output)[];
  'pod_ip': (string);
}
