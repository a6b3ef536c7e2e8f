import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AggregatedDiscoveryClient as _tsmesh_discovery_v1_AggregatedDiscoveryClient, AggregatedDiscoveryDefinition as _tsmesh_discovery_v1_AggregatedDiscoveryDefinition } from './tsmesh/discovery/v1/AggregatedDiscovery.js';
import type { AppPort as _tsmesh_discovery_v1_AppPort, AppPort__Output as _tsmesh_discovery_v1_AppPort__Output } from './tsmesh/discovery/v1/AppPort.js';
import type { DiscoveryRequest as _tsmesh_discovery_v1_DiscoveryRequest, DiscoveryRequest__Output as _tsmesh_discovery_v1_DiscoveryRequest__Output } from './tsmesh/discovery/v1/DiscoveryRequest.js';
import type { DiscoveryResponse as _tsmesh_discovery_v1_DiscoveryResponse, DiscoveryResponse__Output as _tsmesh_discovery_v1_DiscoveryResponse__Output } from './tsmesh/discovery/v1/DiscoveryResponse.js';
import type { Endpoint as _tsmesh_discovery_v1_Endpoint, Endpoint__Output as _tsmesh_discovery_v1_Endpoint__Output } from './tsmesh/discovery/v1/Endpoint.js';
import type { Node as _tsmesh_discovery_v1_Node, Node__Output as _tsmesh_discovery_v1_Node__Output } from './tsmesh/discovery/v1/Node.js';
import type { Resource as _tsmesh_discovery_v1_Resource, Resource__Output as _tsmesh_discovery_v1_Resource__Output } from './tsmesh/discovery/v1/Resource.js';
import type { ServiceEndpoints as _tsmesh_discovery_v1_ServiceEndpoints, ServiceEndpoints__Output as _tsmesh_discovery_v1_ServiceEndpoints__Output } from './tsmesh/discovery/v1/ServiceEndpoints.js';
import type { Status as _tsmesh_discovery_v1_Status, Status__Output as _tsmesh_discovery_v1_Status__Output } from './tsmesh/discovery/v1/Status.js';
import type { TrustBundle as _tsmesh_discovery_v1_TrustBundle, TrustBundle__Output as _tsmesh_discovery_v1_TrustBundle__Output } from './tsmesh/discovery/v1/TrustBundle.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tsmesh: {
    discovery: {
      v1: {
        AggregatedDiscovery: SubtypeConstructor<typeof grpc.Client, _tsmesh_discovery_v1_AggregatedDiscoveryClient> & { service: _tsmesh_discovery_v1_AggregatedDiscoveryDefinition }
        AppPort: MessageTypeDefinition<_tsmesh_discovery_v1_AppPort, _tsmesh_discovery_v1_AppPort__Output>
        DiscoveryRequest: MessageTypeDefinition<_tsmesh_discovery_v1_DiscoveryRequest, _tsmesh_discovery_v1_DiscoveryRequest__Output>
        DiscoveryResponse: MessageTypeDefinition<_tsmesh_discovery_v1_DiscoveryResponse, _tsmesh_discovery_v1_DiscoveryResponse__Output>
        Endpoint: MessageTypeDefinition<_tsmesh_discovery_v1_Endpoint, _tsmesh_discovery_v1_Endpoint__Output>
        Node: MessageTypeDefinition<_tsmesh_discovery_v1_Node, _tsmesh_discovery_v1_Node__Output>
        Resource: MessageTypeDefinition<_tsmesh_discovery_v1_Resource, _tsmesh_discovery_v1_Resource__Output>
        ServiceEndpoints: MessageTypeDefinition<_tsmesh_discovery_v1_ServiceEndpoints, _tsmesh_discovery_v1_ServiceEndpoints__Output>
        Status: MessageTypeDefinition<_tsmesh_discovery_v1_Status, _tsmesh_discovery_v1_Status__Output>
        TrustBundle: MessageTypeDefinition<_tsmesh_discovery_v1_TrustBundle, _tsmesh_discovery_v1_TrustBundle__Output>
      }
    }
  }
}

