// Durations on the command line: 500ms, 30s, 10m, 24h, 30d.
import { ok, err, type Result } from './result.js';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string, flag: string): Result<number, string> {
  const match = DURATION.exec(value.trim());
  if (!match) return err(`${flag}: "${value}" is not a duration (use e.g. 500ms, 30s, 10m, 24h, 30d)`);
  return ok(Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1_000));
}
