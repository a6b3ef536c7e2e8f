// Original file: proto/protos/tsmesh/admin.proto


export interface GetProxyConfigResponse {
  'config_json'?: (string);
}

export interface GetProxyConfigResponse__Output {
  'config_json': (string);
}
