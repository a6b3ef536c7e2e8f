// Original file: proto/protos/tsmesh/discovery.proto

import type { Node as _tsmesh_discovery_v1_Node, Node__Output as _tsmesh_discovery_v1_Node__Output } from '../../../tsmesh/discovery/v1/Node.js';
import type { Status as _tsmesh_discovery_v1_Status, Status__Output as _tsmesh_discovery_v1_Status__Output } from '../../../tsmesh/discovery/v1/Status.js';

export interface DiscoveryRequest {
  'node'?: (_tsmesh_discovery_v1_Node | null);
  'type_url'?: (string);
  'resource_names'?: (string)[];
  'version_info'?: (string);
  'response_nonce'?: (string);
  'error_detail'?: (_tsmesh_discovery_v1_Status | null);
}

export interface DiscoveryRequest__Output {
  'node': (_tsmesh_discovery_v1_Node__Output | null);
  'type_url': (string);
  'resource_names': (string)[];
  'version_info': (string);
  'response_nonce': (string);
  'error_detail': (_tsmesh_discovery_v1_Status__Output | null);
}
