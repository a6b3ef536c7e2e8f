// Original file: proto/protos/tsmesh/discovery.proto

import type { Endpoint as _tsmesh_discovery_v1_Endpoint, Endpoint__Output as _tsmesh_discovery_v1_Endpoint__Output } from '../../../tsmesh/discovery/v1/Endpoint.js';

export interface ServiceEndpoints {
  'service'?: (string);
  'namespace'?: (string);
  'endpoints'?: (_tsmesh_discovery_v1_Endpoint)[];
  'known'?: (boolean);
  'app_protocol'?: (string);
  'target_port'?: (number);
}

export interface ServiceEndpoints__Output {
  'service': (string);
  'namespace': (string);
  'endpoints': (_tsmesh_discovery_v1_Endpoint__Output)[];
  'known': (boolean);
  'app_protocol': (string);
  'target_port': (number);
}
