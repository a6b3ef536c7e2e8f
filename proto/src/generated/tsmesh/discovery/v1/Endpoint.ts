// Original file: proto/protos/tsmesh/discovery.proto


export interface Endpoint {
  'address'?: (string);
  'identity'?: (string);
  'node_id'?: (string);
  'labels'?: ({[key: string]: string});
}

export interface Endpoint__Output {
  'address': (string);
  'identity': (string);
  'node_id': (string);
  'labels': ({[key: string]: string});
}
