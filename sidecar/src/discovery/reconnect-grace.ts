// After a reconnect, answers that take away what a restarted control plane has not relearned yet wait out a grace.
// A restarted control plane knows only the sidecars that have reconnected so far; the others come back
// each after its own backoff (at most 8 s by default). Until then it answers "unknown" for them.
export const RECONNECT_GRACE_MS = 10_000;

export class ReconnectGrace {
  private until = 0;
  private connectedBefore = false;
  // What to apply when the grace ends, by a key naming the resource.
  private readonly held = new Map<string, () => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly graceMs: number,
    private readonly onRelease: (keys: string[]) => void,
  ) {}

  // The first answer on a new stream: a grace starts unless this is the first stream of all.
  streamStarted(): void {
    if (this.connectedBefore) this.until = Date.now() + this.graceMs;
    this.connectedBefore = true;
  }

  remainingMs(): number {
    return Math.max(0, this.until - Date.now());
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  // false: no grace now, apply it at once. Else `apply` runs when the grace ends, unless drop(key) comes first.
  hold(key: string, apply: () => void): boolean {
    if (this.remainingMs() === 0) return false;
    this.held.set(key, apply);
    if (this.timer === undefined) this.schedule();
    return true;
  }

  // A newer answer for the resource replaces the held one.
  drop(key: string): void {
    this.held.delete(key);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.release(), this.remainingMs());
    this.timer.unref();
  }

  private release(): void {
    this.timer = undefined;
    // Another reconnect meanwhile started a new grace.
    if (this.remainingMs() > 0) return this.schedule();
    if (this.held.size === 0) return;
    const keys = [...this.held.keys()];
    for (const apply of this.held.values()) apply();
    this.held.clear();
    this.onRelease(keys);
  }
}
