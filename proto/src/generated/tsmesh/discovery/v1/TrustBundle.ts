// Original file: proto/protos/tsmesh/discovery.proto


export interface TrustBundle {
  'trust_domain'?: (string);
  'roots_pem'?: (string)[];
}

export interface TrustBundle__Output {
  'trust_domain': (string);
  'roots_pem': (string)[];
}
