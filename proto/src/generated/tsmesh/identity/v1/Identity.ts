// Original file: proto/protos/tsmesh/identity.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateCertificateRequest as _tsmesh_identity_v1_CreateCertificateRequest, CreateCertificateRequest__Output as _tsmesh_identity_v1_CreateCertificateRequest__Output } from '../../../tsmesh/identity/v1/CreateCertificateRequest.js';
import type { CreateCertificateResponse as _tsmesh_identity_v1_CreateCertificateResponse, CreateCertificateResponse__Output as _tsmesh_identity_v1_CreateCertificateResponse__Output } from '../../../tsmesh/identity/v1/CreateCertificateResponse.js';

export interface IdentityClient extends grpc.Client {
  CreateCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  CreateCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  CreateCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  CreateCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  createCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  createCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  createCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  createCertificate(argument: _tsmesh_identity_v1_CreateCertificateRequest, callback: grpc.requestCallback<_tsmesh_identity_v1_CreateCertificateResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface IdentityHandlers extends grpc.UntypedServiceImplementation {
  CreateCertificate: grpc.handleUnaryCall<_tsmesh_identity_v1_CreateCertificateRequest__Output, _tsmesh_identity_v1_CreateCertificateResponse>;
  
}

export interface IdentityDefinition extends grpc.ServiceDefinition {
  CreateCertificate: MethodDefinition<_tsmesh_identity_v1_CreateCertificateRequest, _tsmesh_identity_v1_CreateCertificateResponse, _tsmesh_identity_v1_CreateCertificateRequest__Output, _tsmesh_identity_v1_CreateCertificateResponse__Output>
}
