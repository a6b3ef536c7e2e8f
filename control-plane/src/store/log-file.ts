// The change log on disk: created atomically, appended and fsynced record by record, torn tails cut on open.
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { err, ok, type Result } from '@tsmesh/proto';
import { createFileAtomic, exists, fsyncDir, PRIVATE_FILE_MODE } from '../ca/files.js';
import { checkHeader, encodeHeader, HEADER_BYTES, scanRecords, type Corruption, type ScanResult } from './log-format.js';

export class LogFile {
  // Set when an append failed in a way that leaves the file's contents unknown (a failed fsync
  // may have dropped the dirty pages): appending more would build on bytes nobody can vouch for.
  private failure: string | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private end: number,
  ) {}

  // The header is written with the file (temp + link), so a log never exists without one.
  static async open(path: string): Promise<Result<LogFile, string>> {
    if (!(await exists(path))) {
      await createFileAtomic(path, encodeHeader(), PRIVATE_FILE_MODE);
      // The store directory may be new too: its own entry must be durable before any commit is.
      await fsyncDir(dirname(dirname(path)));
    }
    const handle = await open(path, 'r+');
    try {
      const { size } = await handle.stat();
      const header = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
      const checked = checkHeader(header.subarray(0, bytesRead));
      if (!checked.ok) {
        await handle.close();
        return err(`${path} is not a config log: ${checked.error}`);
      }
      return ok(new LogFile(path, handle, size));
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get size(): number {
    return this.end;
  }

  get failed(): string | undefined {
    return this.failure;
  }

  // Bytes [start, end) of the file, read synchronously so that history queries stay synchronous.
  readRange(start: number, end: number): Buffer {
    const buf = Buffer.alloc(end - start);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.handle.fd, buf, done, buf.length - done, start + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file at byte ${start + done} (wanted up to ${end})`);
      done += n;
    }
    return buf;
  }

  async scan(from: number, firstRev: number): Promise<Result<ScanResult, Corruption>> {
    const buf = Buffer.alloc(this.end - from);
    const { bytesRead } = await this.handle.read(buf, 0, buf.length, from);
    return scanRecords(buf.subarray(0, bytesRead), from, firstRev);
  }

  // Only for a tail that was never acknowledged.
  async cut(at: number): Promise<void> {
    await this.handle.truncate(at);
    await this.handle.sync();
    this.end = at;
  }

  // Resolves once the record is durable; until then the caller must not treat it as written.
  async append(record: Buffer): Promise<Result<void, string>> {
    if (this.failure) return err(this.failure);
    let written = 0;
    try {
      while (written < record.length) {
        const { bytesWritten } = await this.handle.write(record, written, record.length - written, this.end + written);
        written += bytesWritten;
      }
    } catch (error) {
      // A half-written record (disk full) must not stay in front of the next one.
      try {
        await this.handle.truncate(this.end);
      } catch {
        this.failure = `${this.path}: a failed append could not be undone (${String(error)}); reopen the store`;
      }
      return err(`${this.path}: append failed: ${String(error)}`);
    }
    try {
      await this.handle.datasync();
    } catch (error) {
      this.failure = `${this.path}: fsync failed (${String(error)}); reopen the store to recover from what is on disk`;
      return err(this.failure);
    }
    this.end += record.length;
    return ok(undefined);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
