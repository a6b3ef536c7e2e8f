// Original file: proto/protos/tsmesh/admin.proto


export interface ListProxiesRequest {
}

export interface ListProxiesRequest__Output {
}
