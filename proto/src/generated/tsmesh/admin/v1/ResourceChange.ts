// Original file: proto/protos/tsmesh/admin.proto


export interface ResourceChange {
  'key'?: (string);
  'action'?: (string);
  'before_json'?: (string);
  'after_json'?: (string);
}

export interface ResourceChange__Output {
  'key': (string);
  'action': (string);
  'before_json': (string);
  'after_json': (string);
}
