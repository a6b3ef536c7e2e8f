import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _tsmesh_admin_v1_AdminClient, AdminDefinition as _tsmesh_admin_v1_AdminDefinition } from './tsmesh/admin/v1/Admin.js';
import type { CreateJoinTokenRequest as _tsmesh_admin_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tsmesh_admin_v1_CreateJoinTokenRequest__Output } from './tsmesh/admin/v1/CreateJoinTokenRequest.js';
import type { CreateJoinTokenResponse as _tsmesh_admin_v1_CreateJoinTokenResponse, CreateJoinTokenResponse__Output as _tsmesh_admin_v1_CreateJoinTokenResponse__Output } from './tsmesh/admin/v1/CreateJoinTokenResponse.js';
import type { ListProxiesRequest as _tsmesh_admin_v1_ListProxiesRequest, ListProxiesRequest__Output as _tsmesh_admin_v1_ListProxiesRequest__Output } from './tsmesh/admin/v1/ListProxiesRequest.js';
import type { ListProxiesResponse as _tsmesh_admin_v1_ListProxiesResponse, ListProxiesResponse__Output as _tsmesh_admin_v1_ListProxiesResponse__Output } from './tsmesh/admin/v1/ListProxiesResponse.js';
import type { ProxyStatus as _tsmesh_admin_v1_ProxyStatus, ProxyStatus__Output as _tsmesh_admin_v1_ProxyStatus__Output } from './tsmesh/admin/v1/ProxyStatus.js';
import type { ProxyTypeStatus as _tsmesh_admin_v1_ProxyTypeStatus, ProxyTypeStatus__Output as _tsmesh_admin_v1_ProxyTypeStatus__Output } from './tsmesh/admin/v1/ProxyTypeStatus.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsmesh: {
    admin: {
      v1: {
        Admin: SubtypeConstructor<typeof grpc.Client, _tsmesh_admin_v1_AdminClient> & { service: _tsmesh_admin_v1_AdminDefinition }
        CreateJoinTokenRequest: MessageTypeDefinition<_tsmesh_admin_v1_CreateJoinTokenRequest, _tsmesh_admin_v1_CreateJoinTokenRequest__Output>
        CreateJoinTokenResponse: MessageTypeDefinition<_tsmesh_admin_v1_CreateJoinTokenResponse, _tsmesh_admin_v1_CreateJoinTokenResponse__Output>
        ListProxiesRequest: MessageTypeDefinition<_tsmesh_admin_v1_ListProxiesRequest, _tsmesh_admin_v1_ListProxiesRequest__Output>
        ListProxiesResponse: MessageTypeDefinition<_tsmesh_admin_v1_ListProxiesResponse, _tsmesh_admin_v1_ListProxiesResponse__Output>
        ProxyStatus: MessageTypeDefinition<_tsmesh_admin_v1_ProxyStatus, _tsmesh_admin_v1_ProxyStatus__Output>
        ProxyTypeStatus: MessageTypeDefinition<_tsmesh_admin_v1_ProxyTypeStatus, _tsmesh_admin_v1_ProxyTypeStatus__Output>
      }
    }
  }
}

