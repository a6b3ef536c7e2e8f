// Load shedder: refuses past maxInFlight or past the event-loop delay limit, with a reason; leave is idempotent.
import { describe, expect, it } from 'vitest';
import { LoadShedder, SustainedLag, type ShedChange } from '../src/resilience/load-shedder.js';

describe('LoadShedder', () => {
  it('refuses beyond maxInFlight and admits again after a leave (once)', () => {
    const shedder = new LoadShedder({ maxInFlight: 2, maxEventLoopDelayMs: 100, delayProbe: () => 0 });
    const a = shedder.enter();
    const b = shedder.enter();
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(shedder.enter()).toEqual({ ok: false, reason: 'sidecar overloaded: 2 requests in flight (limit 2)' });
    if (a.ok) {
      a.leave();
      a.leave();
    }
    expect(shedder.inFlight).toBe(1);
    expect(shedder.enter().ok).toBe(true);
    expect(shedder.enter().ok).toBe(false);
  });

  it('refuses while the event loop lags and recovers when it catches up', () => {
    let delayMs = 250;
    const shedder = new LoadShedder({ maxInFlight: 100, maxEventLoopDelayMs: 200, delayProbe: () => delayMs });
    expect(shedder.enter()).toEqual({ ok: false, reason: 'sidecar overloaded: event loop delay 250 ms (limit 200 ms)' });
    expect(shedder.inFlight).toBe(0);
    delayMs = 200;
    expect(shedder.enter().ok).toBe(true);
  });

  it('runs on the real event-loop monitor and stops it on close', () => {
    const shedder = new LoadShedder({ maxInFlight: 10, maxEventLoopDelayMs: 10_000, sampleIntervalMs: 10 });
    expect(shedder.enter().ok).toBe(true);
    shedder.close();
    shedder.close();
  });

  it('tells when it starts refusing and, with how many it refused, when it admits again', () => {
    let delayMs = 0;
    const changes: ShedChange[] = [];
    const shedder = new LoadShedder({ maxInFlight: 100, maxEventLoopDelayMs: 200, delayProbe: () => delayMs, onChange: (change) => changes.push(change) });
    expect(shedder.enter().ok).toBe(true);
    delayMs = 300;
    for (let i = 0; i < 3; i++) expect(shedder.enter().ok).toBe(false);
    delayMs = 10;
    expect(shedder.enter().ok).toBe(true);
    expect(shedder.enter().ok).toBe(true);
    expect(changes).toEqual([
      { shedding: true, reason: 'sidecar overloaded: event loop delay 300 ms (limit 200 ms)' },
      { shedding: false, refused: 3, forMs: expect.any(Number) as number },
    ]);
  });

  it('judges lag that lasted: one bad interval (a pause) is not overload, two in a row are', () => {
    const lag = new SustainedLag();
    lag.record(5);
    lag.record(2_000);
    expect(lag.ms).toBe(5);
    lag.record(4);
    expect(lag.ms).toBe(4);
    lag.record(1_500);
    lag.record(1_200);
    expect(lag.ms).toBe(1_200);
    lag.record(3);
    expect(lag.ms).toBe(3);
  });

  it('rejects nonsense limits', () => {
    expect(() => new LoadShedder({ maxInFlight: 0, maxEventLoopDelayMs: 10 })).toThrow(/maxInFlight/);
  });
});
