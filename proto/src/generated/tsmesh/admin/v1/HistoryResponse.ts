// Original file: proto/protos/tsmesh/admin.proto

import type { HistoryEntry as _tsmesh_admin_v1_HistoryEntry, HistoryEntry__Output as _tsmesh_admin_v1_HistoryEntry__Output } from '../../../tsmesh/admin/v1/HistoryEntry.js';

export interface HistoryResponse {
  'entries'?: (_tsmesh_admin_v1_HistoryEntry)[];
}

export interface HistoryResponse__Output {
  'entries': (_tsmesh_admin_v1_HistoryEntry__Output)[];
}
