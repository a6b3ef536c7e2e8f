// Batches finished spans for export with a hard memory bound: when the collector is down or slow, spans are dropped and counted, never waited for.
import { TraceFlags } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

export interface SpanBatchOptions {
  // Spans held while waiting for export; past it new spans are dropped (2048 spans is ~2-4 MB).
  maxQueueSize: number;
  maxExportBatchSize: number;
  // A partial batch waits at most this long.
  scheduledDelayMs: number;
  // An export that has not answered by then is given up on and its spans counted as dropped.
  exportTimeoutMs: number;
}

export const DEFAULT_SPAN_BATCH: SpanBatchOptions = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMs: 1000, exportTimeoutMs: 10_000 };

// Unlike the SDK's BatchSpanProcessor (which only logs drops and resets its count), this one keeps a
// monotonic dropped count for mesh_spans_dropped_total, and its onEnd never serializes or exports
// inline: the export runs on a later tick, so a request's end() stays O(1).
export class BoundedBatchSpanProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private exporting = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  // Spans that never reached the collector: queue full, export failed or timed out.
  dropped = 0;
  exported = 0;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly options: SpanBatchOptions = DEFAULT_SPAN_BATCH,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.exporting) return;
    if (this.queue.length >= this.options.maxExportBatchSize) this.scheduleNow();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.exportNext();
      }, this.options.scheduledDelayMs);
      this.timer.unref();
    }
  }

  private scheduleNow(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.exportNext();
    }).unref();
  }

  // One export in flight at a time: a slow collector fills the queue (and then drops), it never piles up requests.
  private exportNext(): void {
    if (this.exporting) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return this.wakeIdle();
    const size = this.options.maxExportBatchSize;
    let batch: ReadableSpan[];
    if (this.queue.length <= size) {
      batch = this.queue;
      this.queue = [];
    } else {
      batch = this.queue.splice(0, size);
    }
    this.exporting = true;
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (ok) this.exported += batch.length;
      else this.dropped += batch.length;
      this.exporting = false;
      if (this.queue.length >= size || (this.closed && this.queue.length > 0)) this.scheduleNow();
      else if (this.queue.length > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.exportNext();
        }, this.options.scheduledDelayMs);
        this.timer.unref();
      }
      this.wakeIdle();
    };
    const deadline = setTimeout(() => finish(false), this.options.exportTimeoutMs);
    deadline.unref();
    try {
      this.exporter.export(batch, (result) => finish(result.code === ExportResultCode.SUCCESS));
    } catch {
      finish(false);
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  // Exports everything queued now (each batch still bounded by the export timeout).
  async forceFlush(): Promise<void> {
    while (this.queue.length > 0 || this.exporting) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      if (!this.exporting) this.exportNext();
      await idle;
    }
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.forceFlush();
    await this.exporter.shutdown();
  }
}
