// A pod's apps, with no mesh knowledge: HTTP/1.1 on 8080, gRPC on 9090, TCP echo on 7000, a server-speaks-first TCP on 7001.
// node examples/dist/netns-apps/servers.js --pod NAME --marker TEXT; every answer carries the marker, to search the wire for it.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Metadata, Server, ServerCredentials, status, type handleBidiStreamingCall, type handleUnaryCall } from '@grpc/grpc-js';
import { ECHO_SERVICE, PORTS, TRAILER_COUNT, TRAILER_POD, TRAILER_REASON, type EchoMessage } from './contract.js';

const { values } = parseArgs({ options: { pod: { type: 'string' }, marker: { type: 'string' }, host: { type: 'string', default: '0.0.0.0' } } });
const pod = values.pod ?? 'pod';
const marker = values.marker ?? 'no-marker';
const host = values.host;

const http = createHttpServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    // The remote address tells a direct call (the caller's pod IP) from one handed over by a sidecar (loopback).
    const body = JSON.stringify({ pod, marker, method: req.method, path: req.url, remoteAddress: req.socket.remoteAddress, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'application/json', 'x-app-marker': marker });
    res.end(body);
  });
});

const trailers = (entries: Record<string, string>): Metadata => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
};

const unary: handleUnaryCall<EchoMessage, EchoMessage> = (call, callback) => {
  callback(null, { text: `${marker}:${call.request.text}`, pod }, trailers({ [TRAILER_POD]: pod }));
};

const chat: handleBidiStreamingCall<EchoMessage, EchoMessage> = (call) => {
  let count = 0;
  call.on('data', (message: EchoMessage) => {
    count += 1;
    call.write({ text: `${marker}:${count}:${message.text}`, pod });
  });
  call.on('end', () => call.end(trailers({ [TRAILER_POD]: pod, [TRAILER_COUNT]: String(count) })));
};

const refuse: handleUnaryCall<EchoMessage, EchoMessage> = (call, callback) => {
  callback({ code: status.FAILED_PRECONDITION, details: `${pod} refuses ${call.request.text}`, metadata: trailers({ [TRAILER_POD]: pod, [TRAILER_REASON]: `${marker}-refused` }) });
};

const grpc = new Server();
grpc.addService(ECHO_SERVICE, { Unary: unary, Chat: chat, Refuse: refuse });

const tcpEcho = createTcpServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from(`${marker}:`), chunk])));
  socket.on('end', () => socket.end());
});

// Speaks before the client says anything: a proxy that waits for the client's first bytes to pick a protocol hangs here.
const tcpBanner = createTcpServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.write(`${marker}:banner from ${pod}\n`);
  socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from(`${marker}:`), chunk])));
  socket.on('end', () => socket.end());
});

const listen = (server: TcpServer | typeof http, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

const grpcReady = new Promise<void>((resolve, reject) =>
  grpc.bindAsync(`${host}:${PORTS.grpc}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
);
await Promise.all([listen(http, PORTS.http), listen(tcpEcho, PORTS.tcpEcho), listen(tcpBanner, PORTS.tcpBanner), grpcReady]);
process.stdout.write(`${JSON.stringify({ event: 'listening', pod, host, ports: PORTS })}\n`);

const stop = (): void => {
  grpc.forceShutdown();
  http.closeAllConnections();
  for (const server of [http, tcpEcho, tcpBanner]) server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
