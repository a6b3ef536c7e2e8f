// Original file: proto/protos/tsmesh/admin.proto

import type { ResourceChange as _tsmesh_admin_v1_ResourceChange, ResourceChange__Output as _tsmesh_admin_v1_ResourceChange__Output } from '../../../tsmesh/admin/v1/ResourceChange.js';
import type { Long } from '@grpc/proto-loader';

export interface ChangeResponse {
  'revision'?: (number | string | Long);
  'changes'?: (_tsmesh_admin_v1_ResourceChange)[];
}

export interface ChangeResponse__Output {
  'revision': (number);
  'changes': (_tsmesh_admin_v1_ResourceChange__Output)[];
}
