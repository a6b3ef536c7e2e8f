// Original file: proto/protos/tsmesh/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ProxyTypeStatus {
  'type_url'?: (string);
  'version_sent'?: (string);
  'version_acked'?: (string);
  'nonce_sent'?: (string);
  'state'?: (string);
  'error'?: (string);
  'since_unix_ms'?: (number | string | Long);
}

export interface ProxyTypeStatus__Output {
  'type_url': (string);
  'version_sent': (string);
  'version_acked': (string);
  'nonce_sent': (string);
  'state': (string);
  'error': (string);
  'since_unix_ms': (number);
}
