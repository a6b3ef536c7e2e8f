// Original file: proto/protos/tsmesh/identity.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateCertificateRequest {
  'csr_pem'?: (string);
  'requested_ttl_seconds'?: (number | string | Long);
}

export interface CreateCertificateRequest__Output {
  'csr_pem': (string);
  'requested_ttl_seconds': (number);
}
