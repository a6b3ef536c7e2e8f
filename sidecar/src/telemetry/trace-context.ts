// Trace context in and out of headers: W3C traceparent read and written by hand, B3 through OpenTelemetry's propagator.
import { ROOT_CONTEXT, TraceFlags, defaultTextMapGetter, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';

export type HeaderBag = Record<string, string | string[] | number | undefined>;

// "vv-" + 32 + "-" + 16 + "-" + 2: the length of a version 00 traceparent (W3C Trace Context, 3.2).
const TRACEPARENT_LENGTH = 55;

const b3 = new B3Propagator();

// Every request carries one of these, and OpenTelemetry's W3C propagator builds a Context (and a Map) per
// call on top of its pattern match; in a sidecar that was most of the server side's tracing cost and of
// what its young generation promoted, though at 1 % sampling almost no request needs a Context.
function isLowerHex(value: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isZeros(value: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (value.charCodeAt(i) !== 48) return false;
  return true;
}

const isSpaceOrTab = (c: number): boolean => c === 32 || c === 9;

// The processing rules of W3C Trace Context 4.3: lowercase hex only; version ff is invalid; version 00 is
// exactly 55 characters; a later version may append fields after a '-' and is read as far as 00 defines.
// An all-zero trace or parent id is invalid. One space or tab at either end is tolerated, as OpenTelemetry does.
export function parseTraceParent(header: string): SpanContext | undefined {
  let value = header;
  if (value.length > TRACEPARENT_LENGTH && isSpaceOrTab(value.charCodeAt(0))) value = value.slice(1);
  if (value.length > TRACEPARENT_LENGTH && isSpaceOrTab(value.charCodeAt(value.length - 1))) value = value.slice(0, -1);
  if (value.length < TRACEPARENT_LENGTH) return undefined;
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return undefined;
  if (!isLowerHex(value, 0, 2) || value.startsWith('ff')) return undefined;
  const extended = value.length > TRACEPARENT_LENGTH;
  if (extended && (value.startsWith('00') || value.charCodeAt(TRACEPARENT_LENGTH) !== 45)) return undefined;
  if (!isLowerHex(value, 3, 35) || isZeros(value, 3, 35) || !isLowerHex(value, 36, 52) || isZeros(value, 36, 52) || !isLowerHex(value, 53, 55)) return undefined;
  return { traceId: value.slice(3, 35), spanId: value.slice(36, 52), traceFlags: parseInt(value.slice(53, 55), 16), isRemote: true };
}

function first(value: string | string[] | number | undefined): string | undefined {
  if (typeof value === 'string') return value;
  return Array.isArray(value) ? value[0] : undefined;
}

// The caller's span: W3C first; B3 (single "b3" or multi "x-b3-*" headers) only when there is no valid traceparent.
// Whatever it returns is valid (isSpanContextValid), so callers need not check again.
export function extractParent(headers: HeaderBag): SpanContext | undefined {
  const traceparent = first(headers['traceparent']);
  if (traceparent !== undefined) {
    const ids = parseTraceParent(traceparent);
    if (ids !== undefined) {
      const state = headers['tracestate'];
      if (state !== undefined && state !== '') ids.traceState = new TraceState(Array.isArray(state) ? state.join(',') : String(state));
      return ids;
    }
  }
  if (headers['b3'] !== undefined || headers['x-b3-traceid'] !== undefined) {
    const ids = trace.getSpanContext(b3.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
    if (ids !== undefined && isSpanContextValid(ids)) return ids;
  }
  return undefined;
}

// A version 00 traceparent for ids already known to be valid.
export function formatTraceParent(ids: SpanContext): string {
  return `00-${ids.traceId}-${ids.spanId}-${(ids.traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01'}`;
}

// Writes traceparent (and tracestate when there is one) so the next hop continues from these ids.
export function injectParent(ids: SpanContext, headersOut: HeaderBag): void {
  if (!isSpanContextValid(ids)) return;
  injectValid(ids, formatTraceParent(ids), headersOut);
}

export function injectValid(ids: SpanContext, traceparent: string, headersOut: HeaderBag): void {
  headersOut['traceparent'] = traceparent;
  const state = ids.traceState?.serialize();
  if (state) headersOut['tracestate'] = state;
}
