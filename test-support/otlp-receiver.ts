// Test fixture: an OTLP trace receiver on 127.0.0.1 (HTTP/protobuf and gRPC) that decodes the real ExportTraceServiceRequest bytes.
// The decoder lives in @tsmesh/proto (otlp/decode.ts), shared with the control plane's embedded trace store.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { decodeExportTraceServiceRequest, type DecodedSpan } from '@tsmesh/proto';

export { decodeExportTraceServiceRequest, type DecodedSpan, type DecodedLink, type SpanKindName } from '@tsmesh/proto';

export interface OtlpReceiver {
  httpEndpoint: string;
  grpcEndpoint: string;
  spans(): DecodedSpan[];
  waitForSpans(predicate: (spans: DecodedSpan[]) => boolean, timeoutMs?: number): Promise<DecodedSpan[]>;
  // Requests received (decoded or not), per transport.
  requests: { http: number; grpc: number };
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  // Accept export requests but never answer them: a collector that is up but hopelessly slow.
  stall?: boolean;
}

// ---- the receiver ----

const TRACE_SERVICE: grpc.ServiceDefinition = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    // An empty ExportTraceServiceResponse encodes as zero bytes.
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const received: DecodedSpan[] = [];
  const waiters = new Set<() => void>();
  const stalled = new Set<ServerResponse>();
  const requests = { http: 0, grpc: 0 };
  const accept = (spans: DecodedSpan[]): void => {
    received.push(...spans);
    for (const wake of waiters) wake();
  };

  const httpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    requests.http++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (options.stall) {
        stalled.add(res);
        return;
      }
      try {
        if (!String(req.headers['content-type']).startsWith('application/x-protobuf')) throw new Error(`unexpected content-type ${req.headers['content-type']}`);
        const body = Buffer.concat(chunks);
        accept(decodeExportTraceServiceRequest(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body, 'http'));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));

  const grpcServer = new grpc.Server();
  grpcServer.addService(TRACE_SERVICE, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      requests.grpc++;
      if (options.stall) return;
      try {
        accept(decodeExportTraceServiceRequest(call.request, 'grpc'));
        callback(null, Buffer.alloc(0));
      } catch (error) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
      }
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );

  return {
    httpEndpoint: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
    grpcEndpoint: `http://127.0.0.1:${grpcPort}`,
    requests,
    spans: () => [...received],
    waitForSpans: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(received)) return;
          cleanup();
          resolve([...received]);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`otlp-receiver: condition not met within ${timeoutMs} ms; ${received.length} spans received: ${received.map((s) => `${s.kind} ${s.name}`).join(', ')}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: async () => {
      for (const res of stalled) res.destroy();
      grpcServer.forceShutdown();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
