// Sampling set mesh-wide: the rate changes live, and a sampled parent is followed whatever the rate.
import { describe, expect, it } from 'vitest';
import { createTelemetry } from '../src/telemetry/telemetry.js';

describe('adjustable sampling', () => {
  it('starts new traces at the current rate and always follows a sampled parent', async () => {
    const t = await createTelemetry({ service: { name: 'orders', namespace: 'shop' }, spiffeId: 'spiffe://cluster.local/ns/shop/sa/orders', tracing: { exporter: undefined, samplingPercent: 0 } });
    const sampledRoots = (): number =>
      Array.from({ length: 50 }, () => t.tracing.startServerSpan({})).filter((span) => {
        // A span stops recording once ended: read the decision first.
        const sampled = span.sampled;
        span.end({ status: 200 });
        return sampled;
      }).length;
    expect(sampledRoots()).toBe(0);
    const child = t.tracing.startServerSpan({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    expect(child.sampled).toBe(true);
    child.end({ status: 200 });
    t.tracing.setSamplingPercent(100);
    expect(t.tracing.currentSamplingPercent).toBe(100);
    expect(sampledRoots()).toBe(50);
    await t.close();
  });
});
