// Original file: proto/protos/tsmesh/identity.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateCertificateResponse {
  'cert_chain_pem'?: (string)[];
  'trust_bundle_pem'?: (string)[];
  'not_after_unix_ms'?: (number | string | Long);
  'spiffe_id'?: (string);
}

export interface CreateCertificateResponse__Output {
  'cert_chain_pem': (string)[];
  'trust_bundle_pem': (string)[];
  'not_after_unix_ms': (number);
  'spiffe_id': (string);
}
