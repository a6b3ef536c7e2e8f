// Original file: proto/protos/tsmesh/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface GetResourcesResponse {
  'revision'?: (number | string | Long);
  'resources_json'?: (string)[];
}

export interface GetResourcesResponse__Output {
  'revision': (number);
  'resources_json': (string)[];
}
