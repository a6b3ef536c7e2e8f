// Original file: proto/protos/tsmesh/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateJoinTokenResponse {
  'token'?: (string);
  'spiffe_id'?: (string);
  'expires_unix_ms'?: (number | string | Long);
  'token_id'?: (string);
}

export interface CreateJoinTokenResponse__Output {
  'token': (string);
  'spiffe_id': (string);
  'expires_unix_ms': (number);
  'token_id': (string);
}
