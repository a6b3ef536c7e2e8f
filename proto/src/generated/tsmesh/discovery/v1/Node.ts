// Original file: proto/protos/tsmesh/discovery.proto


export interface Node {
  'id'?: (string);
  'service'?: (string);
  'namespace'?: (string);
  'inbound_address'?: (string);
  'sidecar_version'?: (string);
  'labels'?: ({[key: string]: string});
}

export interface Node__Output {
  'id': (string);
  'service': (string);
  'namespace': (string);
  'inbound_address': (string);
  'sidecar_version': (string);
  'labels': ({[key: string]: string});
}
