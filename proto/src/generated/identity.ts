import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CreateCertificateRequest as _tsmesh_identity_v1_CreateCertificateRequest, CreateCertificateRequest__Output as _tsmesh_identity_v1_CreateCertificateRequest__Output } from './tsmesh/identity/v1/CreateCertificateRequest.js';
import type { CreateCertificateResponse as _tsmesh_identity_v1_CreateCertificateResponse, CreateCertificateResponse__Output as _tsmesh_identity_v1_CreateCertificateResponse__Output } from './tsmesh/identity/v1/CreateCertificateResponse.js';
import type { IdentityClient as _tsmesh_identity_v1_IdentityClient, IdentityDefinition as _tsmesh_identity_v1_IdentityDefinition } from './tsmesh/identity/v1/Identity.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsmesh: {
    identity: {
      v1: {
        CreateCertificateRequest: MessageTypeDefinition<_tsmesh_identity_v1_CreateCertificateRequest, _tsmesh_identity_v1_CreateCertificateRequest__Output>
        CreateCertificateResponse: MessageTypeDefinition<_tsmesh_identity_v1_CreateCertificateResponse, _tsmesh_identity_v1_CreateCertificateResponse__Output>
        Identity: SubtypeConstructor<typeof grpc.Client, _tsmesh_identity_v1_IdentityClient> & { service: _tsmesh_identity_v1_IdentityDefinition }
      }
    }
  }
}

