// Optional JSON access log, one line per request, buffered and written off the request path; lines are dropped (and counted) rather than waited for.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

export interface AccessLogConfig {
  // 'stderr' writes fd 2 through an fs stream (the threadpool): process.stderr is synchronous for files, TTYs and, on Linux, pipes.
  destination: 'stderr' | { path: string } | { stream: Writable };
  // Bytes buffered (pending in the stream included) before new lines are dropped.
  maxBufferedBytes?: number;
  flushIntervalMs?: number;
}

export interface AccessLogRecord {
  direction: 'inbound' | 'outbound';
  traceId: string;
  method: string;
  path: string;
  authority: string;
  status: number;
  durationMs: number;
  source: string;
  destination: string;
  route: string;
  refusal: string | null;
}

const DEFAULT_MAX_BUFFERED = 1 << 20;
const FLUSH_AT_BYTES = 64 * 1024;

export class AccessLog {
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  dropped = 0;

  constructor(config: AccessLogConfig) {
    const d = config.destination;
    if (d === 'stderr') {
      this.stream = createWriteStream('', { fd: 2, autoClose: false });
      this.ownsStream = true;
    } else if ('path' in d) {
      this.stream = createWriteStream(d.path, { flags: 'a' });
      this.ownsStream = true;
    } else {
      this.stream = d.stream;
      this.ownsStream = false;
    }
    // A broken log sink must never become an unhandled 'error' that takes the proxy down.
    this.stream.on('error', () => {
      this.closed = true;
    });
    this.maxBuffered = config.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    this.flushIntervalMs = config.flushIntervalMs ?? 200;
  }

  write(record: AccessLogRecord): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`;
    if (this.pendingBytes + this.stream.writableLength + line.length > this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_AT_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  // One write per batch of lines; the stream does the I/O asynchronously.
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0 || this.closed) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.stream.write(chunk);
  }

  close(): Promise<void> {
    this.flush();
    this.closed = true;
    if (!this.ownsStream) return Promise.resolve();
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
