// Test fixture: an OTLP trace receiver on 127.0.0.1 (HTTP/protobuf and gRPC) that decodes the real ExportTraceServiceRequest bytes.
// The decoder reads the protobuf wire format against the field numbers of opentelemetry-proto's
// collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto and
// resource/v1/resource.proto (Apache-2.0); no package in the tree ships those .proto files.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';

export type SpanKindName = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
const KINDS: readonly SpanKindName[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  // '' for a root span.
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: SpanKindName;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, unknown>;
  // OTLP StatusCode: 0 unset, 1 ok, 2 error.
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
  // Which transport delivered it.
  via: 'http' | 'grpc';
}

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

// ---- protobuf wire format, just enough for OTLP traces ----

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('protobuf: truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint too long');
    }
  }

  uint(): number {
    return Number(this.varint());
  }

  bytes(): Buffer {
    const length = this.uint();
    if (this.pos + length > this.buf.length) throw new Error('protobuf: truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  fixed64(): Buffer {
    if (this.pos + 8 > this.buf.length) throw new Error('protobuf: truncated fixed64');
    const out = this.buf.subarray(this.pos, this.pos + 8);
    this.pos += 8;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
}

// Calls visit(field, wire, reader) for each field; visit returns false to have the field skipped.
function fields(buf: Buffer, visit: (field: number, wire: number, r: Reader) => boolean): void {
  const r = new Reader(buf);
  while (!r.done) {
    const tag = r.uint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (!visit(field, wire, r)) r.skip(wire);
  }
}

// common.v1.AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 ArrayValue, 6 KeyValueList, 7 bytes.
function anyValue(buf: Buffer): unknown {
  let value: unknown = undefined;
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === 2) value = r.bytes().toString('utf8');
    else if (field === 2 && wire === 0) value = r.varint() !== 0n;
    else if (field === 3 && wire === 0) {
      const n = BigInt.asIntN(64, r.varint());
      value = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    } else if (field === 4 && wire === 1) value = r.fixed64().readDoubleLE(0);
    else if (field === 5 && wire === 2) {
      const items: unknown[] = [];
      fields(r.bytes(), (f, w, rr) => (f === 1 && w === 2 ? (items.push(anyValue(rr.bytes())), true) : false));
      value = items;
    } else if (field === 6 && wire === 2) value = keyValues(r.bytes(), 1);
    else if (field === 7 && wire === 2) value = Buffer.from(r.bytes());
    else return false;
    return true;
  });
  return value;
}

// Reads the repeated KeyValue (1 key, 2 value) field `fieldNumber` of a message into a plain object.
function keyValues(buf: Buffer, fieldNumber: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields(buf, (field, wire, r) => {
    if (field !== fieldNumber || wire !== 2) return false;
    let key = '';
    let value: unknown;
    fields(r.bytes(), (f, w, rr) => {
      if (f === 1 && w === 2) key = rr.bytes().toString('utf8');
      else if (f === 2 && w === 2) value = anyValue(rr.bytes());
      else return false;
      return true;
    });
    out[key] = value;
    return true;
  });
  return out;
}

// trace.v1.Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind, 7 start, 8 end, 9 attributes, 15 status.
function decodeSpan(buf: Buffer, resource: Record<string, unknown>, scope: string, via: 'http' | 'grpc'): DecodedSpan {
  const span: DecodedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    name: '',
    kind: 'UNSPECIFIED',
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: keyValues(buf, 9),
    status: { code: 0, message: '' },
    resource,
    scope,
    via,
  };
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === 2) span.traceId = r.bytes().toString('hex');
    else if (field === 2 && wire === 2) span.spanId = r.bytes().toString('hex');
    else if (field === 3 && wire === 2) span.traceState = r.bytes().toString('utf8');
    else if (field === 4 && wire === 2) span.parentSpanId = r.bytes().toString('hex');
    else if (field === 5 && wire === 2) span.name = r.bytes().toString('utf8');
    else if (field === 6 && wire === 0) span.kind = KINDS[r.uint()] ?? 'UNSPECIFIED';
    else if (field === 7 && wire === 1) span.startTimeUnixNano = r.fixed64().readBigUInt64LE(0);
    else if (field === 8 && wire === 1) span.endTimeUnixNano = r.fixed64().readBigUInt64LE(0);
    else if (field === 15 && wire === 2) {
      // trace.v1.Status: 2 message, 3 code.
      fields(r.bytes(), (f, w, rr) => {
        if (f === 2 && w === 2) span.status.message = rr.bytes().toString('utf8');
        else if (f === 3 && w === 0) span.status.code = rr.uint();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return span;
}

// collector.trace.v1.ExportTraceServiceRequest: 1 ResourceSpans (1 Resource, 2 ScopeSpans (1 scope, 2 Span)).
export function decodeExportTraceServiceRequest(buf: Buffer, via: 'http' | 'grpc'): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  fields(buf, (field, wire, r) => {
    if (field !== 1 || wire !== 2) return false;
    const resourceSpans = r.bytes();
    let resource: Record<string, unknown> = {};
    fields(resourceSpans, (f, w, rr) => (f === 1 && w === 2 ? ((resource = keyValues(rr.bytes(), 1)), true) : false));
    fields(resourceSpans, (f, w, rr) => {
      if (f !== 2 || w !== 2) return false;
      const scopeSpans = rr.bytes();
      let scope = '';
      fields(scopeSpans, (sf, sw, sr) => {
        if (sf === 1 && sw === 2) {
          // common.v1.InstrumentationScope: 1 name.
          fields(sr.bytes(), (xf, xw, xr) => (xf === 1 && xw === 2 ? ((scope = xr.bytes().toString('utf8')), true) : false));
          return true;
        }
        return false;
      });
      fields(scopeSpans, (sf, sw, sr) => (sf === 2 && sw === 2 ? (out.push(decodeSpan(sr.bytes(), resource, scope, via)), true) : false));
      return true;
    });
    return true;
  });
  return out;
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
