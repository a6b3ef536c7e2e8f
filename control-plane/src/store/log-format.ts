// The change log's bytes: a magic header, then records of [u32 BE length][u32 BE CRC32][JSON payload].
import * as zlib from 'node:zlib';
import { err, ok, type Result } from '@tsmesh/proto';
import type { StoredResource } from './types.js';

export const LOG_MAGIC = Buffer.from('TSMESHCL', 'ascii');
export const LOG_VERSION = 1;
export const HEADER_BYTES = LOG_MAGIC.length + 4;
export const RECORD_OVERHEAD = 8;

// Each payload starts with these bytes (rev is serialised first), which lets a scan past a bad
// record find out whether valid records follow it.
const PAYLOAD_START = Buffer.from('{"rev":', 'utf8');

export type RecordChange = { action: 'created' | 'configured'; resource: StoredResource } | { action: 'deleted'; key: string };

export interface LogRecord {
  rev: number;
  time: string;
  actor: string;
  message?: string;
  op: 'commit' | 'rollback';
  rollbackTo?: number;
  changes: RecordChange[];
}

export interface ScannedRecord {
  offset: number;
  length: number;
  record: LogRecord;
}

export interface ScanResult {
  records: ScannedRecord[];
  // File offset just past the last good record.
  goodEnd: number;
  // Set when the bytes after goodEnd are a torn write: nothing valid follows them.
  torn?: { offset: number; reason: string };
}

export interface Corruption {
  offset: number;
  reason: string;
}

type Crc32 = (data: Uint8Array, value?: number) => number;

// zlib.crc32 arrived in Node 20.15; the engines range starts at 20.11, so older runtimes use a table.
const nativeCrc32 = (zlib as { crc32?: Crc32 }).crc32;

let table: Uint32Array | undefined;
function tableCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (table[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function crc32(data: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(data) >>> 0 : tableCrc32(data);
}

export function encodeHeader(): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  LOG_MAGIC.copy(header, 0);
  header.writeUInt32BE(LOG_VERSION, LOG_MAGIC.length);
  return header;
}

export function checkHeader(header: Buffer): Result<void, string> {
  if (header.length < HEADER_BYTES || !header.subarray(0, LOG_MAGIC.length).equals(LOG_MAGIC)) {
    return err('it does not start with the tsmesh config log header');
  }
  const version = header.readUInt32BE(LOG_MAGIC.length);
  if (version !== LOG_VERSION) return err(`it has format version ${version}; this build reads version ${LOG_VERSION}`);
  return ok(undefined);
}

export function encodeRecord(record: LogRecord): Buffer {
  const ordered: LogRecord = { rev: record.rev, time: record.time, actor: record.actor, op: record.op, changes: record.changes };
  if (record.message !== undefined) ordered.message = record.message;
  if (record.rollbackTo !== undefined) ordered.rollbackTo = record.rollbackTo;
  const payload = Buffer.from(JSON.stringify(ordered), 'utf8');
  const out = Buffer.alloc(RECORD_OVERHEAD + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, RECORD_OVERHEAD);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isChange(value: unknown): value is RecordChange {
  if (!isObject(value)) return false;
  if (value['action'] === 'deleted') return typeof value['key'] === 'string';
  if (value['action'] !== 'created' && value['action'] !== 'configured') return false;
  const resource = value['resource'];
  return isObject(resource) && typeof resource['kind'] === 'string' && isObject(resource['metadata']) && typeof resource['metadata']['name'] === 'string';
}

function parsePayload(payload: Buffer): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const { rev, time, actor, op, changes, message, rollbackTo } = value;
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || typeof time !== 'string' || typeof actor !== 'string') return undefined;
  if (op !== 'commit' && op !== 'rollback') return undefined;
  if (!Array.isArray(changes) || !changes.every(isChange)) return undefined;
  if (message !== undefined && typeof message !== 'string') return undefined;
  if (rollbackTo !== undefined && typeof rollbackTo !== 'number') return undefined;
  return value as unknown as LogRecord;
}

// `torn`: the failure is one a crash mid-write can leave (short or unchecksummed bytes); a record
// whose checksum holds but whose content is wrong was written that way and is never a torn write.
type Attempt = { ok: true; value: ScannedRecord } | { ok: false; reason: string; torn: boolean };

// `at` indexes `buf`; `base` is the file offset of buf[0].
function readOne(buf: Buffer, at: number, base: number, expectedRev: number | undefined): Attempt {
  if (buf.length - at < RECORD_OVERHEAD) return { ok: false, torn: true, reason: `${buf.length - at} bytes where a record header (8) was expected` };
  const length = buf.readUInt32BE(at);
  // A crash can leave a zero-filled tail, whose empty "payload" would match its zero checksum.
  if (length < PAYLOAD_START.length) return { ok: false, torn: true, reason: `a record length of ${length} bytes` };
  const end = at + RECORD_OVERHEAD + length;
  if (end > buf.length) return { ok: false, torn: true, reason: `a record of ${length} bytes runs past the end of the file` };
  const payload = buf.subarray(at + RECORD_OVERHEAD, end);
  if (crc32(payload) !== buf.readUInt32BE(at + 4)) return { ok: false, torn: true, reason: 'checksum mismatch' };
  const record = parsePayload(payload);
  if (!record) return { ok: false, torn: false, reason: 'checksum matches but the payload is not a change record' };
  if (expectedRev !== undefined && record.rev !== expectedRev) return { ok: false, torn: false, reason: `revision ${record.rev} where ${expectedRev} was expected` };
  return { ok: true, value: { offset: base + at, length: RECORD_OVERHEAD + length, record } };
}

// Whether any checksummed record starts after `from`: if one does, the bad bytes at `from` are
// damage in the middle of the log, not the one torn write a crash can leave.
function validRecordAfter(buf: Buffer, from: number, base: number): number | undefined {
  for (let hit = buf.indexOf(PAYLOAD_START, from + 1); hit !== -1; hit = buf.indexOf(PAYLOAD_START, hit + 1)) {
    const start = hit - RECORD_OVERHEAD;
    if (start <= from) continue;
    if (readOne(buf, start, base, undefined).ok) return base + start;
  }
  return undefined;
}

// Reads records from `buf` (file bytes from offset `base`), expecting revisions from `firstRev` on.
export function scanRecords(buf: Buffer, base: number, firstRev: number): Result<ScanResult, Corruption> {
  const records: ScannedRecord[] = [];
  let at = 0;
  let rev = firstRev;
  while (at < buf.length) {
    const attempt = readOne(buf, at, base, rev);
    if (!attempt.ok) {
      if (!attempt.torn) return err({ offset: base + at, reason: attempt.reason });
      const next = validRecordAfter(buf, at, base);
      if (next !== undefined) {
        return err({ offset: base + at, reason: `${attempt.reason}, and a valid record follows at byte ${next}` });
      }
      return ok({ records, goodEnd: base + at, torn: { offset: base + at, reason: attempt.reason } });
    }
    records.push(attempt.value);
    at += attempt.value.length;
    rev++;
  }
  return ok({ records, goodEnd: base + at });
}
