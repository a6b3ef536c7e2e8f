// Original file: proto/protos/tsmesh/admin.proto


export interface HistoryRequest {
  'limit'?: (number);
}

export interface HistoryRequest__Output {
  'limit': (number);
}
