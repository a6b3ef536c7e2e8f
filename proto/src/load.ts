// Loads the .proto files at run time into typed grpc-js service constructors.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as IdentityProto } from './generated/identity.js';
import type { ProtoGrpcType as DiscoveryProto } from './generated/discovery.js';
import type { ProtoGrpcType as AdminProto } from './generated/admin.js';

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'protos');

// Must match the generator flags in proto/scripts/generate.mjs, or the types lie.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

function load<T>(file: string): T {
  const definition = protoLoader.loadSync(file, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(definition) as unknown as T;
}

let cache: { identity: IdentityProto; discovery: DiscoveryProto; admin: AdminProto } | undefined;

export function meshProtos(): { identity: IdentityProto; discovery: DiscoveryProto; admin: AdminProto } {
  cache ??= {
    identity: load<IdentityProto>('tsmesh/identity.proto'),
    discovery: load<DiscoveryProto>('tsmesh/discovery.proto'),
    admin: load<AdminProto>('tsmesh/admin.proto'),
  };
  return cache;
}
