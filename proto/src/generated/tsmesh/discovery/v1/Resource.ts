// Original file: proto/protos/tsmesh/discovery.proto

import type { TrustBundle as _tsmesh_discovery_v1_TrustBundle, TrustBundle__Output as _tsmesh_discovery_v1_TrustBundle__Output } from '../../../tsmesh/discovery/v1/TrustBundle.js';
import type { ServiceEndpoints as _tsmesh_discovery_v1_ServiceEndpoints, ServiceEndpoints__Output as _tsmesh_discovery_v1_ServiceEndpoints__Output } from '../../../tsmesh/discovery/v1/ServiceEndpoints.js';

export interface Resource {
  'name'?: (string);
  'version'?: (string);
  'trust_bundle'?: (_tsmesh_discovery_v1_TrustBundle | null);
  'endpoints'?: (_tsmesh_discovery_v1_ServiceEndpoints | null);
  'config_json'?: (Buffer | Uint8Array | string);
  'body'?: "trust_bundle"|"endpoints"|"config_json";
}

export interface Resource__Output {
  'name': (string);
  'version': (string);
  'trust_bundle'?: (_tsmesh_discovery_v1_TrustBundle__Output | null);
  'endpoints'?: (_tsmesh_discovery_v1_ServiceEndpoints__Output | null);
  'config_json'?: (Buffer);
  'body'?: "trust_bundle"|"endpoints"|"config_json";
}
