// Original file: proto/protos/tsmesh/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface RollbackRequest {
  'revision'?: (number | string | Long);
  'message'?: (string);
}

export interface RollbackRequest__Output {
  'revision': (number);
  'message': (string);
}
