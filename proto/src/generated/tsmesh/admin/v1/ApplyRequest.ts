// Original file: proto/protos/tsmesh/admin.proto


export interface ApplyRequest {
  'resources_json'?: (string)[];
  'dry_run'?: (boolean);
  'message'?: (string);
  'skip_semantic_checks'?: (boolean);
}

export interface ApplyRequest__Output {
  'resources_json': (string)[];
  'dry_run': (boolean);
  'message': (string);
  'skip_semantic_checks': (boolean);
}
