// Original file: proto/protos/tsmesh/admin.proto

import type { ProxyStatus as _tsmesh_admin_v1_ProxyStatus, ProxyStatus__Output as _tsmesh_admin_v1_ProxyStatus__Output } from '../../../tsmesh/admin/v1/ProxyStatus.js';

export interface ListProxiesResponse {
  'proxies'?: (_tsmesh_admin_v1_ProxyStatus)[];
}

export interface ListProxiesResponse__Output {
  'proxies': (_tsmesh_admin_v1_ProxyStatus__Output)[];
}
