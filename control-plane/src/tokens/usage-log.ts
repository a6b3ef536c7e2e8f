// The durable record of join token redemptions: one JSON line per use, fsynced before the use counts.
import { open, type FileHandle } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../ca/files.js';

export interface UsageRecord {
  jti: string;
  // Unix milliseconds of the redemption.
  at: number;
  spiffeId: string;
}

function parseRecord(line: string): UsageRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r['jti'] !== 'string' || typeof r['at'] !== 'number' || typeof r['spiffeId'] !== 'string') return undefined;
  return { jti: r['jti'], at: r['at'], spiffeId: r['spiffeId'] };
}

export class UsageLog {
  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    private readonly counts: Map<string, number>,
    private size: number,
  ) {}

  // A crash mid-append leaves a torn last line; it was never acknowledged, so it is cut off
  // (appending after it would glue the next record onto the garbage). A bad line before the
  // last means the log was damaged otherwise: refuse to guess, since losing uses lets tokens be reused.
  static async open(path: string): Promise<UsageLog> {
    const handle = await open(path, 'a+', PRIVATE_FILE_MODE);
    try {
      const raw = await handle.readFile();
      const text = raw.toString('utf8');
      const counts = new Map<string, number>();
      const lines = text.split('\n');
      // After the last newline: nothing, or the torn record.
      lines.pop();
      let goodBytes = 0;
      for (const [index, line] of lines.entries()) {
        const record = parseRecord(line);
        if (!record) {
          // A crash can also leave a zero-filled block where the last line should be.
          if (index === lines.length - 1) break;
          throw new Error(`${path} line ${index + 1} is not a usage record; the token usage log is damaged (move it aside to reset every token's use count)`);
        }
        counts.set(record.jti, (counts.get(record.jti) ?? 0) + 1);
        goodBytes += Buffer.byteLength(line, 'utf8') + 1;
      }
      if (goodBytes < raw.length) {
        await handle.truncate(goodBytes);
        await handle.sync();
      }
      return new UsageLog(handle, path, counts, goodBytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  uses(jti: string): number {
    return this.counts.get(jti) ?? 0;
  }

  // Resolves only once the record is on disk; the count is raised only then.
  // Callers serialise appends: the rollback below assumes no other append is in flight.
  async append(record: UsageRecord): Promise<number> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      await this.handle.appendFile(line);
      await this.handle.datasync();
    } catch (error) {
      // A half-written line (disk full) would damage the log for every later record.
      await this.handle.truncate(this.size).catch(() => undefined);
      throw error;
    }
    this.size += line.length;
    const uses = this.uses(record.jti) + 1;
    this.counts.set(record.jti, uses);
    return uses;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
