// Original file: proto/protos/tsmesh/discovery.proto

import type { Resource as _tsmesh_discovery_v1_Resource, Resource__Output as _tsmesh_discovery_v1_Resource__Output } from '../../../tsmesh/discovery/v1/Resource.js';

export interface DiscoveryResponse {
  'type_url'?: (string);
  'version_info'?: (string);
  'nonce'?: (string);
  'resources'?: (_tsmesh_discovery_v1_Resource)[];
}

export interface DiscoveryResponse__Output {
  'type_url': (string);
  'version_info': (string);
  'nonce': (string);
  'resources': (_tsmesh_discovery_v1_Resource__Output)[];
}
