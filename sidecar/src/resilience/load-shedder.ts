// Load shedding for the sidecar itself: refuse new work early when it is already overloaded, instead of slowing everyone.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoadShedderOptions {
  maxInFlight: number;
  maxEventLoopDelayMs: number;
  // How often the event-loop delay histogram is read and reset (default probe only).
  sampleIntervalMs?: number;
  // Current event-loop delay in ms; the default is SustainedLag over the monitor's per-interval p99.
  delayProbe?: () => number;
  // Called when the shedder starts refusing (with the first refusal's reason) and when it admits again.
  onChange?: (change: ShedChange) => void;
}

export type ShedChange = { shedding: true; reason: string } | { shedding: false; refused: number; forMs: number };

export type ShedDecision = { ok: true; leave: () => void } | { ok: false; reason: string };

// The event loop's lag as the shedder judges it: the lower p99 of the last two intervals, i.e. lag that
// lasted. One pause (a long GC, a CPU-throttled container, a stopped process) lands in one interval;
// shedding on it would refuse the backlog that queued during the pause just as the loop has caught up,
// and callers' breakers would count those refusals as the destination failing.
export class SustainedLag {
  private last = 0;
  private previous = 0;

  record(p99Ms: number): void {
    this.previous = this.last;
    this.last = p99Ms;
  }

  get ms(): number {
    return Math.min(this.last, this.previous);
  }
}

export class LoadShedder {
  private inFlightCount = 0;
  private shedSince: number | undefined;
  private refused = 0;
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
    const lag = new SustainedLag();
    // Reading once per interval keeps enter() O(1); resetting makes the figure "recent", so shedding stops once it recovers.
    const timer = setInterval(() => {
      lag.record(histogram.percentile(99) / 1e6);
      histogram.reset();
    }, options.sampleIntervalMs ?? 500);
    timer.unref();
    this.probe = () => lag.ms;
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
      return this.refuse(`sidecar overloaded: ${this.inFlightCount} requests in flight (limit ${this.options.maxInFlight})`);
    }
    const delayMs = this.probe();
    if (delayMs > this.options.maxEventLoopDelayMs) {
      return this.refuse(`sidecar overloaded: event loop delay ${Math.round(delayMs)} ms (limit ${this.options.maxEventLoopDelayMs} ms)`);
    }
    if (this.shedSince !== undefined) {
      const change: ShedChange = { shedding: false, refused: this.refused, forMs: Math.round(performance.now() - this.shedSince) };
      this.shedSince = undefined;
      this.refused = 0;
      this.options.onChange?.(change);
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

  private refuse(reason: string): ShedDecision {
    this.refused++;
    if (this.shedSince === undefined) {
      this.shedSince = performance.now();
      this.options.onChange?.({ shedding: true, reason });
    }
    return { ok: false, reason };
  }

  close(): void {
    this.stop();
  }
}
