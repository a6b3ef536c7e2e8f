// Original file: proto/protos/tsmesh/discovery.proto


export interface AppPort {
  'port'?: (number);
  'protocol'?: (string);
}

export interface AppPort__Output {
  'port': (number);
  'protocol': (string);
}
