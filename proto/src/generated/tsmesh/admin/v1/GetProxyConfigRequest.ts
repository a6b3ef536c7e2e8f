// Original file: proto/protos/tsmesh/admin.proto


export interface GetProxyConfigRequest {
  'proxy'?: (string);
}

export interface GetProxyConfigRequest__Output {
  'proxy': (string);
}
