// Original file: proto/protos/tsmesh/discovery.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DiscoveryRequest as _tsmesh_discovery_v1_DiscoveryRequest, DiscoveryRequest__Output as _tsmesh_discovery_v1_DiscoveryRequest__Output } from '../../../tsmesh/discovery/v1/DiscoveryRequest.js';
import type { DiscoveryResponse as _tsmesh_discovery_v1_DiscoveryResponse, DiscoveryResponse__Output as _tsmesh_discovery_v1_DiscoveryResponse__Output } from '../../../tsmesh/discovery/v1/DiscoveryResponse.js';

export interface AggregatedDiscoveryClient extends grpc.Client {
  StreamResources(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryResponse__Output>;
  StreamResources(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryResponse__Output>;
  streamResources(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryResponse__Output>;
  streamResources(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryResponse__Output>;
  
}

export interface AggregatedDiscoveryHandlers extends grpc.UntypedServiceImplementation {
  StreamResources: grpc.handleBidiStreamingCall<_tsmesh_discovery_v1_DiscoveryRequest__Output, _tsmesh_discovery_v1_DiscoveryResponse>;
  
}

export interface AggregatedDiscoveryDefinition extends grpc.ServiceDefinition {
  StreamResources: MethodDefinition<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryResponse, _tsmesh_discovery_v1_DiscoveryRequest__Output, _tsmesh_discovery_v1_DiscoveryResponse__Output>
}
