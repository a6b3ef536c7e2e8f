// Original file: proto/protos/tsmesh/admin.proto

import type { ProxyTypeStatus as _tsmesh_admin_v1_ProxyTypeStatus, ProxyTypeStatus__Output as _tsmesh_admin_v1_ProxyTypeStatus__Output } from '../../../tsmesh/admin/v1/ProxyTypeStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface ProxyStatus {
  'node_id'?: (string);
  'spiffe_id'?: (string);
  'service'?: (string);
  'namespace'?: (string);
  'inbound_address'?: (string);
  'connected_unix_ms'?: (number | string | Long);
  'types'?: (_tsmesh_admin_v1_ProxyTypeStatus)[];
}

export interface ProxyStatus__Output {
  'node_id': (string);
  'spiffe_id': (string);
  'service': (string);
  'namespace': (string);
  'inbound_address': (string);
  'connected_unix_ms': (number);
  'types': (_tsmesh_admin_v1_ProxyTypeStatus__Output)[];
}
