// What the pod apps and their client agree on: the ports, and a gRPC service without a .proto (JSON messages).
import type { MethodDefinition } from '@grpc/grpc-js';

export const PORTS = { http: 8080, grpc: 9090, tcpEcho: 7000, tcpBanner: 7001 } as const;

export interface EchoMessage {
  text: string;
  pod?: string;
}

const encode = (message: EchoMessage): Buffer => Buffer.from(JSON.stringify(message));
const decode = (bytes: Buffer): EchoMessage => JSON.parse(bytes.toString('utf8')) as EchoMessage;

function method(name: string, streaming: boolean): MethodDefinition<EchoMessage, EchoMessage> {
  return {
    path: `/tsmesh.netns.Echo/${name}`,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: encode,
    requestDeserialize: decode,
    responseSerialize: encode,
    responseDeserialize: decode,
  };
}

export const ECHO_SERVICE = {
  Unary: method('Unary', false),
  Chat: method('Chat', true),
  Refuse: method('Refuse', false),
};

// Trailing metadata the server sets on every call, to check that trailers survive the trip.
export const TRAILER_POD = 'x-pod';
export const TRAILER_COUNT = 'x-count';
export const TRAILER_REASON = 'x-refuse-reason';

// What the client prints, one JSON line per call.
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface GrpcResult {
  code: number;
  details: string;
  trailers: Record<string, string>;
  messages: EchoMessage[];
}

export interface TcpResult {
  banner?: string;
  reply: string;
}

export interface ClientFailure {
  error: string;
}
