// Trace context from headers: the hand-written traceparent reader agrees with OpenTelemetry's W3C propagator on any input.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ROOT_CONTEXT, defaultTextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { extractParent, injectParent, parseTraceParent } from '../src/telemetry/trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const w3c = new W3CTraceContextPropagator();

function reference(value: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const ids = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent: value }, defaultTextMapGetter));
  return ids === undefined ? undefined : { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.traceFlags };
}

function ours(value: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const ids = parseTraceParent(value);
  return ids === undefined ? undefined : { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.traceFlags };
}

const hex = (length: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
// Mostly well-formed parts, with the ways a part goes wrong mixed in.
const part = (length: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: hex(length) },
    { weight: 1, arbitrary: fc.constant('0'.repeat(length)) },
    { weight: 1, arbitrary: hex(length).map((s) => s.toUpperCase()) },
    { weight: 1, arbitrary: hex(length + 1) },
    { weight: 1, arbitrary: hex(Math.max(1, length - 1)) },
    { weight: 1, arbitrary: fc.string({ minLength: length, maxLength: length }) },
  );
const version = fc.constantFrom('00', '01', 'cc', 'fe', 'ff', '0g', 'A0', '0');
const suffix = fc.constantFrom('', '', '', '-', '-what-comes-next', 'x', '.01', '-');
const edge = fc.constantFrom('', '', '', ' ', '\t', '  ');

describe('parseTraceParent', () => {
  it('reads what OpenTelemetry reads and refuses what it refuses', () => {
    fc.assert(
      fc.property(edge, version, part(32), part(16), part(2), suffix, edge, (lead, v, traceId, spanId, flags, rest, trail) => {
        const value = `${lead}${v}-${traceId}-${spanId}-${flags}${rest}${trail}`;
        expect(ours(value)).toEqual(reference(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on arbitrary text, and agrees there too', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (value) => {
        expect(ours(value)).toEqual(reference(value));
      }),
    );
  });

  it('follows W3C Trace Context: exact length for 00, fields after a dash for later versions, no zero ids', () => {
    expect(parseTraceParent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(parseTraceParent(`00-${TRACE}-${SPAN}-01-future`)).toBeUndefined();
    expect(parseTraceParent(`01-${TRACE}-${SPAN}-03-future`)).toMatchObject({ traceId: TRACE, traceFlags: 3 });
    expect(parseTraceParent(`01-${TRACE}-${SPAN}-03future`)).toBeUndefined();
    expect(parseTraceParent(`ff-${TRACE}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${'0'.repeat(32)}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${TRACE.toUpperCase()}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceParent(` 00-${TRACE}-${SPAN}-00\t`)).toMatchObject({ traceId: TRACE, traceFlags: 0 });
  });
});

describe('extractParent', () => {
  it('takes tracestate with a valid traceparent, the first of repeated values, and B3 only without a valid traceparent', () => {
    const withState = extractParent({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: ['a=1', 'b=2'] });
    expect(withState?.traceState?.serialize()).toBe('a=1,b=2');
    expect(extractParent({ traceparent: [`00-${TRACE}-${SPAN}-01`, 'junk'] })?.spanId).toBe(SPAN);
    const other = 'a'.repeat(32);
    expect(extractParent({ traceparent: 'junk', b3: `${other}-${SPAN}-1` })).toMatchObject({ traceId: other, spanId: SPAN, traceFlags: 1 });
    expect(extractParent({ 'x-b3-traceid': other, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' })).toMatchObject({ traceId: other, traceFlags: 0 });
    expect(extractParent({ traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${other}-${SPAN}-1` })?.traceId).toBe(TRACE);
    expect(extractParent({ b3: 'junk' })).toBeUndefined();
    expect(extractParent({})).toBeUndefined();
  });

  it('writes back what it read: traceparent with the sampled bit only, tracestate as received', () => {
    const ids = extractParent({ traceparent: `00-${TRACE}-${SPAN}-03`, tracestate: 'vendor=abc' });
    if (ids === undefined) throw new Error('the traceparent was not read');
    const out: Record<string, string> = {};
    injectParent(ids, out);
    expect(out).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=abc' });
    const none: Record<string, string> = {};
    injectParent({ traceId: '0'.repeat(32), spanId: SPAN, traceFlags: 1 }, none);
    expect(none).toEqual({});
  });
});
