// Original file: proto/protos/tsmesh/admin.proto


export interface GetResourcesRequest {
  'kind'?: (string);
  'namespace'?: (string);
  'name'?: (string);
}

export interface GetResourcesRequest__Output {
  'kind': (string);
  'namespace': (string);
  'name': (string);
}
