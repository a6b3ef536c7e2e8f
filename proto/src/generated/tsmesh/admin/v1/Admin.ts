// Original file: proto/protos/tsmesh/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateJoinTokenRequest as _tsmesh_admin_v1_CreateJoinTokenRequest, CreateJoinTokenRequest__Output as _tsmesh_admin_v1_CreateJoinTokenRequest__Output } from '../../../tsmesh/admin/v1/CreateJoinTokenRequest.js';
import type { CreateJoinTokenResponse as _tsmesh_admin_v1_CreateJoinTokenResponse, CreateJoinTokenResponse__Output as _tsmesh_admin_v1_CreateJoinTokenResponse__Output } from '../../../tsmesh/admin/v1/CreateJoinTokenResponse.js';
import type { ListProxiesRequest as _tsmesh_admin_v1_ListProxiesRequest, ListProxiesRequest__Output as _tsmesh_admin_v1_ListProxiesRequest__Output } from '../../../tsmesh/admin/v1/ListProxiesRequest.js';
import type { ListProxiesResponse as _tsmesh_admin_v1_ListProxiesResponse, ListProxiesResponse__Output as _tsmesh_admin_v1_ListProxiesResponse__Output } from '../../../tsmesh/admin/v1/ListProxiesResponse.js';

export interface AdminClient extends grpc.Client {
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  createJoinToken(argument: _tsmesh_admin_v1_CreateJoinTokenRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_CreateJoinTokenResponse__Output>): grpc.ClientUnaryCall;
  
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  ListProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  listProxies(argument: _tsmesh_admin_v1_ListProxiesRequest, callback: grpc.requestCallback<_tsmesh_admin_v1_ListProxiesResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  CreateJoinToken: grpc.handleUnaryCall<_tsmesh_admin_v1_CreateJoinTokenRequest__Output, _tsmesh_admin_v1_CreateJoinTokenResponse>;
  
  ListProxies: grpc.handleUnaryCall<_tsmesh_admin_v1_ListProxiesRequest__Output, _tsmesh_admin_v1_ListProxiesResponse>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  CreateJoinToken: MethodDefinition<_tsmesh_admin_v1_CreateJoinTokenRequest, _tsmesh_admin_v1_CreateJoinTokenResponse, _tsmesh_admin_v1_CreateJoinTokenRequest__Output, _tsmesh_admin_v1_CreateJoinTokenResponse__Output>
  ListProxies: MethodDefinition<_tsmesh_admin_v1_ListProxiesRequest, _tsmesh_admin_v1_ListProxiesResponse, _tsmesh_admin_v1_ListProxiesRequest__Output, _tsmesh_admin_v1_ListProxiesResponse__Output>
}
