// gRPC between apps through two sidecars: unary, streaming both ways, statuses and trailers intact, refusals as grpc-status.
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsMaterial } from '../src/identity/tls-material.js';
import { Cleanup } from './support/mesh.js';
import { openPolicy, startPair } from './support/pair.js';
import { callerAndServer } from './support/pki.js';

const A_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const B_ID = 'spiffe://cluster.local/ns/shop/sa/orders';

// Messages are raw bytes: the mesh must not care what the protobuf says.
const bytes = { serialize: (value: Buffer) => value, deserialize: (value: Buffer) => value };
const SERVICE = {
  echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  chat: { path: '/test.Echo/Chat', requestStream: true, responseStream: true, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
} satisfies grpc.ServiceDefinition;

type EchoClient = grpc.Client & {
  echo: (request: Buffer, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response?: Buffer) => void) => grpc.ClientUnaryCall;
  chat: () => grpc.ClientDuplexStream<Buffer, Buffer>;
  fail: (request: Buffer, callback: (error: grpc.ServiceError | null, response?: Buffer) => void) => grpc.ClientUnaryCall;
};

let tlsA: TlsMaterial;
let tlsB: TlsMaterial;
const cleanup = new Cleanup();

beforeAll(async () => {
  ({ caller: tlsA, server: tlsB } = await callerAndServer(A_ID, B_ID));
});

afterEach(() => cleanup.run());

async function startGrpcApp(): Promise<{ port: number; peers: string[] }> {
  const server = new grpc.Server();
  const peers: string[] = [];
  server.addService(SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      peers.push(String(call.metadata.get('x-mesh-peer-identity')[0]));
      const trailers = new grpc.Metadata();
      trailers.set('x-trailer', `echoed ${call.request.length}`);
      callback(null, Buffer.concat([Buffer.from('echo:'), call.request]), trailers);
    },
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (message: Buffer) => call.write(Buffer.from(`re:${message.toString()}`)));
      call.on('end', () => call.end());
    },
    fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-why', 'no such order');
      callback({ code: grpc.status.NOT_FOUND, details: 'order 42 not found', metadata });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  cleanup.add(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { port, peers };
}

function client(outboundPort: number): EchoClient {
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
  // The app dials its sidecar with h2c and names the service as its authority (Host form).
  const instance = new Client(`127.0.0.1:${outboundPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'orders.shop' }) as unknown as EchoClient;
  cleanup.add(() => instance.close());
  return instance;
}

function unary(call: (callback: (error: grpc.ServiceError | null, response?: Buffer) => void) => grpc.ClientUnaryCall): Promise<{ error: grpc.ServiceError | null; response: Buffer | undefined; trailers: grpc.Metadata | undefined }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const handle = call((error, response) => setImmediate(() => resolve({ error, response, trailers })));
    handle.on('status', (status: grpc.StatusObject) => (trailers = status.metadata));
  });
}

describe('gRPC through the mesh', () => {
  it('carries a unary call with its trailing metadata, and the app sees the verified caller', async () => {
    const app = await startGrpcApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const echo = client(pair.outboundPort);
    const result = await unary((callback) => echo.echo(Buffer.from('hello'), new grpc.Metadata(), callback));
    expect(result.error).toBeNull();
    expect(result.response?.toString()).toBe('echo:hello');
    expect(result.trailers?.get('x-trailer')).toEqual(['echoed 5']);
    expect(app.peers).toEqual([A_ID]);
  });

  it('streams both ways on one call', async () => {
    const app = await startGrpcApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const chat = client(pair.outboundPort).chat();
    const received: string[] = [];
    const done = new Promise<grpc.StatusObject>((resolve) => chat.on('status', resolve));
    chat.on('data', (message: Buffer) => {
      received.push(message.toString());
      // Each answer prompts the next message: only a stream that is live both ways gets through this.
      if (received.length < 3) chat.write(Buffer.from(`m${received.length + 1}`));
      else chat.end();
    });
    chat.write(Buffer.from('m1'));
    const status = await done;
    expect(status.code).toBe(grpc.status.OK);
    expect(received).toEqual(['re:m1', 're:m2', 're:m3']);
  });

  it("passes the app's non-OK status, message and trailing metadata through unchanged", async () => {
    const app = await startGrpcApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const result = await unary((callback) => client(pair.outboundPort).fail(Buffer.from('42'), callback));
    expect(result.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(result.error?.details).toBe('order 42 not found');
    expect(result.error?.metadata.get('x-why')).toEqual(['no such order']);
  });

  it('answers a refusal by policy as PERMISSION_DENIED with the reason, not as a bare HTTP 403', async () => {
    const app = await startGrpcApp();
    const policy = openPolicy();
    policy.authorizationPolicies = [
      { apiVersion: 'mesh.tsmesh.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'no-frontend', namespace: 'shop' }, spec: { action: 'DENY', rules: [{ from: [{ principals: [A_ID] }] }] } },
    ] as never;
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port, policy });
    const result = await unary((callback) => client(pair.outboundPort).echo(Buffer.from('x'), new grpc.Metadata(), callback));
    expect(result.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(result.error?.details).toContain('denied by AuthorizationPolicy shop/no-frontend');
    expect(result.error?.metadata.get('x-mesh-error')).toEqual(['MESH_ERR_FORBIDDEN']);
    expect(app.peers).toEqual([]);
  });

  it('answers an unknown service as UNAVAILABLE with the mesh reason', async () => {
    const app = await startGrpcApp();
    const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
    const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
    const stranger = new Client(`127.0.0.1:${pair.outboundPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'nowhere.shop' }) as unknown as EchoClient;
    cleanup.add(() => stranger.close());
    const result = await unary((callback) => stranger.echo(Buffer.from('x'), new grpc.Metadata(), callback));
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(result.error?.metadata.get('x-mesh-error')[0]).toMatch(/^MESH_ERR_/);
  });
});
