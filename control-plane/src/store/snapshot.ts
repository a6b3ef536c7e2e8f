// Snapshots of the folded state plus the history index, so that start-up replays only the log's tail.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { err, ok, type Result } from '@tsmesh/proto';
import { PRIVATE_FILE_MODE, writeFileAtomic } from '../ca/files.js';
import type { HistoryEntry, StoredResource } from './types.js';

const FORMAT = 'tsmesh-config-snapshot';
const VERSION = 1;
const NAME = /^snapshot-(\d+)\.json$/;
// Temp files writeFileAtomic leaves behind when the process dies mid-snapshot.
const TEMP = /^\.snapshot-\d+\.json\.tmp-/;
// The newest is what start-up uses; the one before covers a newest that turns out unreadable.
const KEEP = 2;

// A history entry plus where its record sits in the log, so stateAt can read records back.
export interface IndexedEntry extends HistoryEntry {
  offset: number;
  length: number;
}

export interface Snapshot {
  revision: number;
  // Log offset just past the record of `revision`: replay starts here.
  logEnd: number;
  resources: StoredResource[];
  history: IndexedEntry[];
}

export function snapshotPath(dir: string, revision: number): string {
  return join(dir, `snapshot-${revision}.json`);
}

// Newest first; stray temp files of an interrupted snapshot are removed on the way.
export async function listSnapshots(dir: string): Promise<number[]> {
  const revisions: number[] = [];
  for (const name of await readdir(dir)) {
    if (TEMP.test(name)) await rm(join(dir, name), { force: true });
    const match = NAME.exec(name);
    if (match?.[1]) revisions.push(Number(match[1]));
  }
  return revisions.sort((a, b) => b - a);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEntry(value: unknown): value is IndexedEntry {
  return (
    isObject(value) &&
    typeof value['revision'] === 'number' &&
    typeof value['offset'] === 'number' &&
    typeof value['length'] === 'number' &&
    typeof value['time'] === 'string' &&
    typeof value['actor'] === 'string' &&
    Array.isArray(value['summary'])
  );
}

export async function readSnapshot(dir: string, revision: number): Promise<Result<Snapshot, string>> {
  const path = snapshotPath(dir, revision);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    return err(`${path}: ${String(error)}`);
  }
  if (!isObject(value) || value['format'] !== FORMAT || value['version'] !== VERSION) return err(`${path}: not a version ${VERSION} config snapshot`);
  const { logEnd, resources, history } = value;
  if (value['revision'] !== revision || typeof logEnd !== 'number' || !Array.isArray(resources) || !Array.isArray(history) || !history.every(isEntry)) {
    return err(`${path}: malformed snapshot`);
  }
  if (history.length !== revision || history.some((entry, index) => entry.revision !== index + 1)) {
    return err(`${path}: its history does not cover revisions 1..${revision}`);
  }
  return ok({ revision, logEnd, resources: resources as StoredResource[], history });
}

export async function writeSnapshot(dir: string, snapshot: Snapshot): Promise<void> {
  const body = JSON.stringify({ format: FORMAT, version: VERSION, ...snapshot });
  await writeFileAtomic(snapshotPath(dir, snapshot.revision), body, PRIVATE_FILE_MODE);
  const older = (await listSnapshots(dir)).filter((revision) => revision < snapshot.revision).slice(KEEP - 1);
  for (const revision of older) await rm(snapshotPath(dir, revision), { force: true });
}
