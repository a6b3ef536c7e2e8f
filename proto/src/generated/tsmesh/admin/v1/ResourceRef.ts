// Original file: proto/protos/tsmesh/admin.proto


export interface ResourceRef {
  'kind'?: (string);
  'namespace'?: (string);
  'name'?: (string);
}

export interface ResourceRef__Output {
  'kind': (string);
  'namespace': (string);
  'name': (string);
}
