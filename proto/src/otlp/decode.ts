// Decodes OTLP/protobuf trace exports (ExportTraceServiceRequest) into plain span objects, for receivers of spans.
// The reader follows the field numbers of opentelemetry-proto's collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto and resource/v1/resource.proto (Apache-2.0); no package
// in the tree ships those .proto files or a decoder.
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
  // Span links: other spans this one relates to without being their child (e.g. the change a push carries).
  links: DecodedLink[];
  // Which transport delivered it.
  via: 'http' | 'grpc';
}

export interface DecodedLink {
  traceId: string;
  spanId: string;
  attributes: Record<string, unknown>;
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

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('protobuf: truncated fixed field');
    this.pos += n;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.advance(4);
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

// trace.v1.Span.Link: 1 trace_id, 2 span_id, 4 attributes.
function decodeLink(buf: Buffer): DecodedLink {
  const link: DecodedLink = { traceId: '', spanId: '', attributes: keyValues(buf, 4) };
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === 2) link.traceId = r.bytes().toString('hex');
    else if (field === 2 && wire === 2) link.spanId = r.bytes().toString('hex');
    else return false;
    return true;
  });
  return link;
}

// trace.v1.Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind, 7 start, 8 end, 9 attributes, 13 links, 15 status.
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
    links: [],
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
    else if (field === 13 && wire === 2) span.links.push(decodeLink(r.bytes()));
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

