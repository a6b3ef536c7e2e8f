// Original file: proto/protos/tsmesh/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateJoinTokenRequest {
  'namespace'?: (string);
  'service_account'?: (string);
  'ttl_seconds'?: (number | string | Long);
  'max_uses'?: (number);
}

export interface CreateJoinTokenRequest__Output {
  'namespace': (string);
  'service_account': (string);
  'ttl_seconds': (number);
  'max_uses': (number);
}
