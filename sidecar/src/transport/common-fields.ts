// Field names nearly every request or answer carries: matched in place, so the common ones cost no new string.
// (A name used as a property key is also looked up in V8's table of internalized strings; these already are.)

const COMMON_NAMES = [
  ':status', ':method', ':path', ':authority', ':scheme', ':protocol',
  'host', 'date', 'server', 'accept', 'accept-encoding', 'accept-language', 'user-agent', 'connection', 'keep-alive', 'cookie', 'set-cookie',
  'content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'cache-control', 'etag', 'last-modified', 'location', 'vary', 'expect', 'upgrade',
  'traceparent', 'tracestate', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'authorization',
  'te', 'grpc-status', 'grpc-message', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding',
  'x-mesh-peer-identity', 'x-mesh-app-port', 'x-mesh-app-protocol', 'x-mesh-error', 'x-mesh-reason',
];
// By length: each name as its string and its bytes (all ASCII, so a byte and a character code are the same number).
const BY_LENGTH: { bytes: Buffer; name: string }[][] = [];
for (const name of COMMON_NAMES) (BY_LENGTH[name.length] ??= []).push({ bytes: Buffer.from(name, 'latin1'), name });

// The common name whose bytes buf[start, end) are, exactly; undefined when it is none of them.
// Compared from the last byte: names of one length mostly differ at their end ("content-type", "cache-control").
export function commonFieldNameIn(buf: Uint8Array, start: number, end: number): string | undefined {
  const candidates = BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  next: for (const candidate of candidates) {
    const bytes = candidate.bytes;
    for (let i = end - start - 1; i >= 0; i--) if (buf[start + i] !== bytes[i]) continue next;
    return candidate.name;
  }
  return undefined;
}

// text.slice(0, end).toLowerCase(), but a common name's own string when text starts with one, in any case.
export function lowerFieldNameAt(text: string, end: number): string {
  const candidates = BY_LENGTH[end];
  if (candidates !== undefined) {
    for (const { bytes, name } of candidates) {
      let i = 0;
      for (; i < end; i++) {
        const c = text.charCodeAt(i);
        if ((c >= 65 && c <= 90 ? c + 32 : c) !== bytes[i]) break;
      }
      if (i === end) return name;
    }
  }
  return text.slice(0, end).toLowerCase();
}

// buf[start, end) lowercased as latin1 text, a common name's own string when it is one: the bytes are
// compared in place, so a common name costs no string at all.
export function lowerFieldNameIn(buf: Uint8Array, start: number, end: number): string {
  const candidates = BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (const { bytes, name } of candidates) {
      let i = 0;
      for (; start + i < end; i++) {
        const c = buf[start + i] as number;
        if ((c >= 65 && c <= 90 ? c + 32 : c) !== bytes[i]) break;
      }
      if (start + i === end) return name;
    }
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1').toLowerCase();
}
