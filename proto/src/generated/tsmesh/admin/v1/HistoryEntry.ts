// Original file: proto/protos/tsmesh/admin.proto

import type { ResourceChange as _tsmesh_admin_v1_ResourceChange, ResourceChange__Output as _tsmesh_admin_v1_ResourceChange__Output } from '../../../tsmesh/admin/v1/ResourceChange.js';
import type { Long } from '@grpc/proto-loader';

export interface HistoryEntry {
  'revision'?: (number | string | Long);
  'time_unix_ms'?: (number | string | Long);
  'actor'?: (string);
  'message'?: (string);
  'op'?: (string);
  'rollback_to'?: (number | string | Long);
  'changes'?: (_tsmesh_admin_v1_ResourceChange)[];
}

export interface HistoryEntry__Output {
  'revision': (number);
  'time_unix_ms': (number);
  'actor': (string);
  'message': (string);
  'op': (string);
  'rollback_to': (number);
  'changes': (_tsmesh_admin_v1_ResourceChange__Output)[];
}
