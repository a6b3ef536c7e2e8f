// Original file: proto/protos/tsmesh/admin.proto

import type { ResourceRef as _tsmesh_admin_v1_ResourceRef, ResourceRef__Output as _tsmesh_admin_v1_ResourceRef__Output } from '../../../tsmesh/admin/v1/ResourceRef.js';

export interface DeleteRequest {
  'refs'?: (_tsmesh_admin_v1_ResourceRef)[];
  'dry_run'?: (boolean);
  'message'?: (string);
}

export interface DeleteRequest__Output {
  'refs': (_tsmesh_admin_v1_ResourceRef__Output)[];
  'dry_run': (boolean);
  'message': (string);
}
