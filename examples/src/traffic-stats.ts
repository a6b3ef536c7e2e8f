// Counts the demo traffic and renders the live status line: rate, success rate, latency percentiles.

interface Sample {
  at: number;
  status: number;
  ms: number;
}

export class TrafficStats {
  private readonly window: Sample[] = [];
  private total = 0;
  private succeeded = 0;
  private lastError = '';

  constructor(private readonly windowMs = 10_000) {}

  record(status: number, ms: number, error?: string): void {
    this.total++;
    if (status >= 200 && status < 400) this.succeeded++;
    else this.lastError = `${status || 'error'}${error ? ` ${error}` : ''}`;
    this.window.push({ at: Date.now(), status, ms });
  }

  line(now = Date.now()): string {
    while (this.window.length > 0 && (this.window[0]?.at ?? now) < now - this.windowMs) this.window.shift();
    const n = this.window.length;
    const ok = this.window.filter((s) => s.status >= 200 && s.status < 400).length;
    const sorted = this.window.map((s) => s.ms).sort((a, b) => a - b);
    const pct = (p: number): string => (n === 0 ? '-' : `${(sorted[Math.min(n - 1, Math.floor((p / 100) * n))] ?? 0).toFixed(1)}ms`);
    const rate = (n / (this.windowMs / 1000)).toFixed(1);
    const success = n === 0 ? '-' : `${((100 * ok) / n).toFixed(1)}%`;
    const error = ok < n && this.lastError ? `  last error: ${this.lastError}` : '';
    return `shop <- loadgen  ${rate} req/s  success ${success}  p50 ${pct(50)}  p99 ${pct(99)}  total ${this.total} (${this.succeeded} ok)${error}`;
  }
}
