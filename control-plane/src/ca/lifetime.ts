// Certificate validity windows: how long a certificate lives, and how far back it starts.
export const SECOND_MS = 1000;
export const HOUR_MS = 3600 * SECOND_MS;
export const DAY_MS = 24 * HOUR_MS;

export const DEFAULT_ROOT_TTL_MS = 3650 * DAY_MS;
export const DEFAULT_WORKLOAD_TTL_MS = DAY_MS;
export const DEFAULT_MAX_WORKLOAD_TTL_MS = 30 * DAY_MS;
// Peers whose clocks run a little behind must still accept a certificate issued just now.
export const MAX_CLOCK_SKEW_MS = 60 * SECOND_MS;

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

// X.509 times have whole seconds; forge drops the milliseconds, so the window is rounded here
// and the notAfter we report is exactly the certificate's.
function floorToSecond(ms: number): number {
  return Math.floor(ms / SECOND_MS) * SECOND_MS;
}

/**
 * The window for a certificate asked to live `ttlMs` from `nowMs`, never past `capMs`.
 * The backdating is at most a tenth of the lifetime: a 4 s test certificate backdated by 60 s
 * would look 64 s long to a renewer that renews at half of notAfter - notBefore, and be
 * renewed long after it expired. notAfter counts from now, so backdating never shortens it.
 * Returns undefined when the cap leaves no lifetime at all (the issuer has expired).
 */
export function validityWindow(nowMs: number, ttlMs: number, capMs: number): ValidityWindow | undefined {
  const skew = Math.min(MAX_CLOCK_SKEW_MS, Math.floor(ttlMs / 10));
  const notAfter = floorToSecond(Math.min(nowMs + ttlMs, capMs));
  if (notAfter <= nowMs) return undefined;
  return { notBefore: new Date(floorToSecond(nowMs - skew)), notAfter: new Date(notAfter) };
}
