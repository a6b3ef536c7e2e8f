// Delay before a retry: bounded exponential backoff with full jitter, stateless so a request carries only its count.

// A uniformly random delay in [0, min(maxMs, baseMs * 2^attempt)), where attempt counts the retries already made
// (0 before the first retry); same curve as discovery's reconnect Backoff.
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, Math.floor(attempt)), 30));
  return Math.floor(Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * Math.max(0, ceiling));
}
