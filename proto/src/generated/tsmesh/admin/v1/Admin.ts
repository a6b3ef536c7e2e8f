// Original file: proto/protos/tsmesh/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ApplyRequest as _tsmesh_admin_v1_ApplyRequest, ApplyRequest__Output as _tsmesh_admin_v1_ApplyRequest__Output } from '../../../tsmesh/admin/v1/ApplyRequest.js';
import type { ChangeResponse as _tsmesh_admin_v1_ChangeResponse, ChangeResponse__Output as _tsmesh_admin_v1_ChangeResponse__Output } from '../../../tsmesh/admin/v1/ChangeResponse.js';
import type { CreateJoinTokenRequest as _tsmesh_admin_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tsmesh_admin_v1_CreateJoinTokenRequest__Output } from '../../../tsmesh/admin/v1/CreateJoinTokenRequest.js';
import type { CreateJoinTokenResponse as _tsmesh_admin_v1_CreateJoinTokenResponse, CreateJoinTokenResponse__Output as _tsmesh_admin_v1_CreateJoinTokenResponse__Output } from '../../../tsmesh/admin/v1/CreateJoinTokenResponse.js';
import type { DeleteRequest as _tsmesh_admin_v1_DeleteRequest, DeleteRequest__Output as _tsmesh_admin_v1_DeleteRequest__Output } from '../../../tsmesh/admin/v1/DeleteRequest.js';
import type { GetProxyConfigRequest as _tsmesh_admin_v1_GetProxyConfigRequest, GetProxyConfigRequest__Output as _tsmesh_admin_v1_GetProxyConfigRequest__Output } from '../../../tsmesh/admin/v1/GetProxyConfigRequest.js';
import type { GetProxyConfigResponse as _tsmesh_admin_v1_GetProxyConfigResponse, GetProxyConfigResponse__Output as _tsmesh_admin_v1_GetProxyConfigResponse__Output } from '../../../tsmesh/admin/v1/GetProxyConfigResponse.js';
import type { GetResourcesRequest as _tsmesh_admin_v1_GetResourcesRequest, GetResourcesRequest__Output as _tsmesh_admin_v1_GetResourcesRequest__Output } from '../../../tsmesh/admin/v1/GetResourcesRequest.js';
import type { GetResourcesResponse as _tsmesh_admin_v1_GetResourcesResponse, GetResourcesResponse__Output as _tsmesh_admin_v1_GetResourcesResponse__Output } from '../../../tsmesh/admin/v1/GetResourcesResponse.js';
import type { HistoryRequest as _tsmesh_admin_v1_HistoryRequest, HistoryRequest__Output as _tsmesh_admin_v1_HistoryRequest__Output } from '../../../tsmesh/admin/v1/HistoryRequest.js';
import type { HistoryResponse as _tsmesh_admin_v1_HistoryResponse, HistoryResponse__Output as _tsmesh_admin_v1_HistoryResponse__Output } from '../../../tsmesh/admin/v1/HistoryResponse.js';
import type { ListProxiesRequest as _tsmesh_admin_v1_ListProxiesRequest, ListProxiesRequest__Output as _tsmesh_admin_v1_ListProxiesRequest__Output } from '../../../tsmesh/admin/v1/ListProxiesRequest.js';
import type { ListProxiesResponse as _tsmesh_admin_v1_ListProxiesResponse, ListProxiesResponse__Output as _tsmesh_admin_v1_ListProxiesResponse__Output } from '../../../tsmesh/admin/v1/ListProxiesResponse.js';
import type { RollbackRequest as _tsmesh_admin_v1_RollbackRequest, RollbackRequest__Output as _tsmesh_admin_v1_RollbackRequest__Output } from '../../../tsmesh/admin/v1/RollbackRequest.js';

export interface AdminClient extends grpc.Client {
  Apply(argument: _tsmesh_admin_v1_ApplyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Apply(argument: _tsmesh_admin_v1_ApplyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Apply(argument: _tsmesh_admin_v1_ApplyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Apply(argument: _tsmesh_admin_v1_ApplyRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  apply(argument: _tsmesh_admin_v1_ApplyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  apply(argument: _tsmesh_admin_v1_ApplyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  apply(argument: _tsmesh_admin_v1_ApplyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  apply(argument: _tsmesh_admin_v1_ApplyRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  
  Delete(argument: _tsmesh_admin_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _tsmesh_admin_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _tsmesh_admin_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _tsmesh_admin_v1_DeleteRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _tsmesh_admin_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _tsmesh_admin_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _tsmesh_admin_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _tsmesh_admin_v1_DeleteRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  
  GetProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  GetProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  GetProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  GetProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  getProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  getProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  getProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  getProxyConfig(argument: _tsmesh_admin_v1_GetProxyConfigRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_GetProxyConfigResponse__Output>): grpc.ClientUnaryCall;
  
  GetResources(argument: _tsmesh_admin_v1_GetResourcesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  GetResources(argument: _tsmesh_admin_v1_GetResourcesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  GetResources(argument: _tsmesh_admin_v1_GetResourcesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  GetResources(argument: _tsmesh_admin_v1_GetResourcesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  getResources(argument: _tsmesh_admin_v1_GetResourcesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  getResources(argument: _tsmesh_admin_v1_GetResourcesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  getResources(argument: _tsmesh_admin_v1_GetResourcesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  getResources(argument: _tsmesh_admin_v1_GetResourcesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_GetResourcesResponse__Output>): grpc.ClientUnaryCall;
  
  History(argument: _tsmesh_admin_v1_HistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _tsmesh_admin_v1_HistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _tsmesh_admin_v1_HistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  History(argument: _tsmesh_admin_v1_HistoryRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _tsmesh_admin_v1_HistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _tsmesh_admin_v1_HistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _tsmesh_admin_v1_HistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  history(argument: _tsmesh_admin_v1_HistoryRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_HistoryResponse__Output>): grpc.ClientUnaryCall;
  
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  
  Rollback(argument: _tsmesh_admin_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _tsmesh_admin_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _tsmesh_admin_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _tsmesh_admin_v1_RollbackRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  rollback(argument: _tsmesh_admin_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  rollback(argument: _tsmesh_admin_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  rollback(argument: _tsmesh_admin_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  rollback(argument: _tsmesh_admin_v1_RollbackRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ChangeResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  Apply: grpc.handleUnaryCall<_tsmesh_admin_v1_ApplyRequest__Output, _tsmesh_admin_v1_ChangeResponse>;
  
  CreateJoinToken: grpc.handleUnaryCall<_tsmesh_admin_v1_CreateJoinTokenRequest__Output, _tsmesh_admin_v1_CreateJoinTokenResponse>;
  
  Delete: grpc.handleUnaryCall<_tsmesh_admin_v1_DeleteRequest__Output, _tsmesh_admin_v1_ChangeResponse>;
  
  GetProxyConfig: grpc.handleUnaryCall<_tsmesh_admin_v1_GetProxyConfigRequest__Output, _tsmesh_admin_v1_GetProxyConfigResponse>;
  
  GetResources: grpc.handleUnaryCall<_tsmesh_admin_v1_GetResourcesRequest__Output, _tsmesh_admin_v1_GetResourcesResponse>;
  
  History: grpc.handleUnaryCall<_tsmesh_admin_v1_HistoryRequest__Output, _tsmesh_admin_v1_HistoryResponse>;
  
  ListProxies: grpc.handleUnaryCall<_tsmesh_admin_v1_ListProxiesRequest__Output, _tsmesh_admin_v1_ListProxiesResponse>;
  
  Rollback: grpc.handleUnaryCall<_tsmesh_admin_v1_RollbackRequest__Output, _tsmesh_admin_v1_ChangeResponse>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  Apply: MethodDefinition<_tsmesh_admin_v1_ApplyRequest, _tsmesh_admin_v1_ChangeResponse, _tsmesh_admin_v1_ApplyRequest__Output, _tsmesh_admin_v1_ChangeResponse__Output>
  CreateJoinToken: MethodDefinition<_tsmesh_admin_v1_CreateJoinTokenRequest, _tsmesh_admin_v1_CreateJoinTokenResponse, _tsmesh_admin_v1_CreateJoinTokenRequest__Output, _tsmesh_admin_v1_CreateJoinTokenResponse__Output>
  Delete: MethodDefinition<_tsmesh_admin_v1_DeleteRequest, _tsmesh_admin_v1_ChangeResponse, _tsmesh_admin_v1_DeleteRequest__Output, _tsmesh_admin_v1_ChangeResponse__Output>
  GetProxyConfig: MethodDefinition<_tsmesh_admin_v1_GetProxyConfigRequest, _tsmesh_admin_v1_GetProxyConfigResponse, _tsmesh_admin_v1_GetProxyConfigRequest__Output, _tsmesh_admin_v1_GetProxyConfigResponse__Output>
  GetResources: MethodDefinition<_tsmesh_admin_v1_GetResourcesRequest, _tsmesh_admin_v1_GetResourcesResponse, _tsmesh_admin_v1_GetResourcesRequest__Output, _tsmesh_admin_v1_GetResourcesResponse__Output>
  History: MethodDefinition<_tsmesh_admin_v1_HistoryRequest, _tsmesh_admin_v1_HistoryResponse, _tsmesh_admin_v1_HistoryRequest__Output, _tsmesh_admin_v1_HistoryResponse__Output>
  ListProxies: MethodDefinition<_tsmesh_admin_v1_ListProxiesRequest, _tsmesh_admin_v1_ListProxiesResponse, _tsmesh_admin_v1_ListProxiesRequest__Output, _tsmesh_admin_v1_ListProxiesResponse__Output>
  Rollback: MethodDefinition<_tsmesh_admin_v1_RollbackRequest, _tsmesh_admin_v1_ChangeResponse, _tsmesh_admin_v1_RollbackRequest__Output, _tsmesh_admin_v1_ChangeResponse__Output>
}
