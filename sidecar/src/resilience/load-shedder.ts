// Load shedding for the sidecar itself: refuse new work early when it is already overloaded, instead of slowing everyone.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoadShedderOptions {
  maxInFlight: number;
  maxEventLoopDelayMs: number;
  // How often the event-loop delay histogram is read and reset (default probe only).
  sampleIntervalMs?: number;
  // Current event-loop delay in ms; the default is the p99 of the last sample interval.
  delayProbe?: () => number;
}

export type ShedDecision = { ok: true; leave: () => void } | { ok: false; reason: string };

export class LoadShedder {
  private inFlightCount = 0;
  private readonly probe: () => number;
  private readonly stop: () => void;

  constructor(private readonly options: LoadShedderOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`load shedder: maxInFlight must be a positive integer, got ${options.maxInFlight}`);
    if (!(options.maxEventLoopDelayMs > 0)) throw new RangeError(`load shedder: maxEventLoopDelayMs must be > 0, got ${options.maxEventLoopDelayMs}`);
    if (options.delayProbe) {
      this.probe = options.delayProbe;
      this.stop = () => {};
      return;
    }
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    let p99Ms = 0;
    // Reading once per interval keeps enter() O(1); resetting makes the figure "recent", so shedding stops once it recovers.
    const timer = setInterval(() => {
      p99Ms = histogram.percentile(99) / 1e6;
      histogram.reset();
    }, options.sampleIntervalMs ?? 500);
    timer.unref();
    this.probe = () => p99Ms;
    this.stop = () => {
      clearInterval(timer);
      histogram.disable();
    };
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  enter(): ShedDecision {
    if (this.inFlightCount >= this.options.maxInFlight) {
      return { ok: false, reason: `sidecar overloaded: ${this.inFlightCount} requests in flight (limit ${this.options.maxInFlight})` };
    }
    const delayMs = this.probe();
    if (delayMs > this.options.maxEventLoopDelayMs) {
      return { ok: false, reason: `sidecar overloaded: event loop delay ${Math.round(delayMs)} ms (limit ${this.options.maxEventLoopDelayMs} ms)` };
    }
    this.inFlightCount++;
    let left = false;
    return {
      ok: true,
      leave: () => {
        if (left) return;
        left = true;
        this.inFlightCount--;
      },
    };
  }

  close(): void {
    this.stop();
  }
}
