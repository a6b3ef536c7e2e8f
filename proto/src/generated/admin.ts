import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _tsmesh_admin_v1_AdminClient, AdminDefinition as _tsmesh_admin_v1_AdminDefinition } from './tsmesh/admin/v1/Admin.js';
import type { ApplyRequest as _tsmesh_admin_v1_ApplyRequest, ApplyRequest__Output as _tsmesh_admin_v1_ApplyRequest__Output } from './tsmesh/admin/v1/ApplyRequest.js';
import type { ChangeResponse as _tsmesh_admin_v1_ChangeResponse, ChangeResponse__Output as _tsmesh_admin_v1_ChangeResponse__Output } from './tsmesh/admin/v1/ChangeResponse.js';
import type { CreateJoinTokenRequest as _tsmesh_admin_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tsmesh_admin_v1_CreateJoinTokenRequest__Output } from './tsmesh/admin/v1/CreateJoinTokenRequest.js';
import type { CreateJoinTokenResponse as _tsmesh_admin_v1_CreateJoinTokenResponse, CreateJoinTokenResponse__Output as _tsmesh_admin_v1_CreateJoinTokenResponse__Output } from './tsmesh/admin/v1/CreateJoinTokenResponse.js';
import type { DeleteRequest as _tsmesh_admin_v1_DeleteRequest, DeleteRequest__Output as _tsmesh_admin_v1_DeleteRequest__Output } from './tsmesh/admin/v1/DeleteRequest.js';
import type { GetProxyConfigRequest as _tsmesh_admin_v1_GetProxyConfigRequest, GetProxyConfigRequest__Output as _tsmesh_admin_v1_GetProxyConfigRequest__Output } from './tsmesh/admin/v1/GetProxyConfigRequest.js';
import type { GetProxyConfigResponse as _tsmesh_admin_v1_GetProxyConfigResponse, GetProxyConfigResponse__Output as _tsmesh_admin_v1_GetProxyConfigResponse__Output } from './tsmesh/admin/v1/GetProxyConfigResponse.js';
import type { GetResourcesRequest as _tsmesh_admin_v1_GetResourcesRequest, GetResourcesRequest__Output as _tsmesh_admin_v1_GetResourcesRequest__Output } from './tsmesh/admin/v1/GetResourcesRequest.js';
import type { GetResourcesResponse as _tsmesh_admin_v1_GetResourcesResponse, GetResourcesResponse__Output as _tsmesh_admin_v1_GetResourcesResponse__Output } from './tsmesh/admin/v1/GetResourcesResponse.js';
import type { HistoryEntry as _tsmesh_admin_v1_HistoryEntry, HistoryEntry__Output as _tsmesh_admin_v1_HistoryEntry__Output } from './tsmesh/admin/v1/HistoryEntry.js';
import type { HistoryRequest as _tsmesh_admin_v1_HistoryRequest, HistoryRequest__Output as _tsmesh_admin_v1_HistoryRequest__Output } from './tsmesh/admin/v1/HistoryRequest.js';
import type { HistoryResponse as _tsmesh_admin_v1_HistoryResponse, HistoryResponse__Output as _tsmesh_admin_v1_HistoryResponse__Output } from './tsmesh/admin/v1/HistoryResponse.js';
import type { ListProxiesRequest as _tsmesh_admin_v1_ListProxiesRequest, ListProxiesRequest__Output as _tsmesh_admin_v1_ListProxiesRequest__Output } from './tsmesh/admin/v1/ListProxiesRequest.js';
import type { ListProxiesResponse as _tsmesh_admin_v1_ListProxiesResponse, ListProxiesResponse__Output as _tsmesh_admin_v1_ListProxiesResponse__Output } from './tsmesh/admin/v1/ListProxiesResponse.js';
import type { ProxyStatus as _tsmesh_admin_v1_ProxyStatus, ProxyStatus__Output as _tsmesh_admin_v1_ProxyStatus__Output } from './tsmesh/admin/v1/ProxyStatus.js';
import type { ProxyTypeStatus as _tsmesh_admin_v1_ProxyTypeStatus, ProxyTypeStatus__Output as _tsmesh_admin_v1_ProxyTypeStatus__Output } from './tsmesh/admin/v1/ProxyTypeStatus.js';
import type { ResourceChange as _tsmesh_admin_v1_ResourceChange, ResourceChange__Output as _tsmesh_admin_v1_ResourceChange__Output } from './tsmesh/admin/v1/ResourceChange.js';
import type { ResourceRef as _tsmesh_admin_v1_ResourceRef, ResourceRef__Output as _tsmesh_admin_v1_ResourceRef__Output } from './tsmesh/admin/v1/ResourceRef.js';
import type { RollbackRequest as _tsmesh_admin_v1_RollbackRequest, RollbackRequest__Output as _tsmesh_admin_v1_RollbackRequest__Output } from './tsmesh/admin/v1/RollbackRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsmesh: {
    admin: {
      v1: {
        Admin: SubtypeConstructor<typeof grpc.Client, _tsmesh_admin_v1_AdminClient> & { service: _tsmesh_admin_v1_AdminDefinition }
        ApplyRequest: MessageTypeDefinition<_tsmesh_admin_v1_ApplyRequest, _tsmesh_admin_v1_ApplyRequest__Output>
        ChangeResponse: MessageTypeDefinition<_tsmesh_admin_v1_ChangeResponse, _tsmesh_admin_v1_ChangeResponse__Output>
        CreateJoinTokenRequest: MessageTypeDefinition<_tsmesh_admin_v1_CreateJoinTokenRequest, _tsmesh_admin_v1_CreateJoinTokenRequest__Output>
        CreateJoinTokenResponse: MessageTypeDefinition<_tsmesh_admin_v1_CreateJoinTokenResponse, _tsmesh_admin_v1_CreateJoinTokenResponse__Output>
        DeleteRequest: MessageTypeDefinition<_tsmesh_admin_v1_DeleteRequest, _tsmesh_admin_v1_DeleteRequest__Output>
        GetProxyConfigRequest: MessageTypeDefinition<_tsmesh_admin_v1_GetProxyConfigRequest, _tsmesh_admin_v1_GetProxyConfigRequest__Output>
        GetProxyConfigResponse: MessageTypeDefinition<_tsmesh_admin_v1_GetProxyConfigResponse, _tsmesh_admin_v1_GetProxyConfigResponse__Output>
        GetResourcesRequest: MessageTypeDefinition<_tsmesh_admin_v1_GetResourcesRequest, _tsmesh_admin_v1_GetResourcesRequest__Output>
        GetResourcesResponse: MessageTypeDefinition<_tsmesh_admin_v1_GetResourcesResponse, _tsmesh_admin_v1_GetResourcesResponse__Output>
        HistoryEntry: MessageTypeDefinition<_tsmesh_admin_v1_HistoryEntry, _tsmesh_admin_v1_HistoryEntry__Output>
        HistoryRequest: MessageTypeDefinition<_tsmesh_admin_v1_HistoryRequest, _tsmesh_admin_v1_HistoryRequest__Output>
        HistoryResponse: MessageTypeDefinition<_tsmesh_admin_v1_HistoryResponse, _tsmesh_admin_v1_HistoryResponse__Output>
        ListProxiesRequest: MessageTypeDefinition<_tsmesh_admin_v1_ListProxiesRequest, _tsmesh_admin_v1_ListProxiesRequest__Output>
        ListProxiesResponse: MessageTypeDefinition<_tsmesh_admin_v1_ListProxiesResponse, _tsmesh_admin_v1_ListProxiesResponse__Output>
        ProxyStatus: MessageTypeDefinition<_tsmesh_admin_v1_ProxyStatus, _tsmesh_admin_v1_ProxyStatus__Output>
        ProxyTypeStatus: MessageTypeDefinition<_tsmesh_admin_v1_ProxyTypeStatus, _tsmesh_admin_v1_ProxyTypeStatus__Output>
        ResourceChange: MessageTypeDefinition<_tsmesh_admin_v1_ResourceChange, _tsmesh_admin_v1_ResourceChange__Output>
        ResourceRef: MessageTypeDefinition<_tsmesh_admin_v1_ResourceRef, _tsmesh_admin_v1_ResourceRef__Output>
        RollbackRequest: MessageTypeDefinition<_tsmesh_admin_v1_RollbackRequest, _tsmesh_admin_v1_RollbackRequest__Output>
      }
    }
  }
}

