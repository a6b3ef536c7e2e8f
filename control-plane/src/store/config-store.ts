// The embedded config store: an fsynced change log folded into state, with history, stateAt and rollback.
import { join } from 'node:path';
import { createLogger, err, ok, type Logger, type Result } from '@tsmesh/proto';
import { ensurePrivateDir } from '../ca/files.js';
import { DirectoryLock } from './lock.js';
import { LogFile } from './log-file.js';
import { encodeRecord, HEADER_BYTES, scanRecords, type LogRecord } from './log-format.js';
import { listSnapshots, readSnapshot, writeSnapshot, type IndexedEntry } from './snapshot.js';
import { applyRecord, deepFreeze, diffStates, planCommit, sortedEntries, summaryOf, type State } from './state.js';
import { keyOf, resourceKey, StoreOpenError, type Change, type ChangeMeta, type CommitResult, type HistoryEntry, type Recovery, type StoredResource, type StoreError } from './types.js';

export interface ConfigStoreOptions {
  // Records between snapshots (default 500).
  snapshotEvery?: number;
  logger?: Logger;
  // Unix milliseconds, for commit times and creationTimestamp.
  now?: () => number;
}

export type CommitListener = (revision: number, changedKeys: string[]) => void;

function entryOf(record: LogRecord, offset: number, length: number): IndexedEntry {
  const entry: IndexedEntry = { revision: record.rev, time: record.time, actor: record.actor, op: record.op, summary: summaryOf(record), offset, length };
  if (record.message !== undefined) entry.message = record.message;
  if (record.rollbackTo !== undefined) entry.rollbackTo = record.rollbackTo;
  return entry;
}

interface Base {
  state: State;
  entries: IndexedEntry[];
  from: number;
}

// The newest snapshot whose last record is really in the log (a log restored from an older
// backup, or cut short, makes a newer snapshot a lie); none means a replay of the whole log.
async function loadBase(dir: string, log: LogFile, logger: Logger): Promise<Base> {
  for (const revision of await listSnapshots(dir)) {
    const read = await readSnapshot(dir, revision);
    if (!read.ok) {
      logger.warn('skipping unreadable snapshot', { error: read.error });
      continue;
    }
    const snapshot = read.value;
    const last = snapshot.history[snapshot.history.length - 1];
    const fits = last !== undefined && last.offset + last.length === snapshot.logEnd && snapshot.logEnd <= log.size;
    const check = fits ? scanRecords(log.readRange(last.offset, snapshot.logEnd), last.offset, revision) : undefined;
    if (!check?.ok || check.value.records.length !== 1 || check.value.torn) {
      logger.warn('skipping snapshot that does not match the log', { revision, log: log.path });
      continue;
    }
    const state: State = new Map(snapshot.resources.map((resource) => [keyOf(resource), deepFreeze(resource)]));
    return { state, entries: snapshot.history, from: snapshot.logEnd };
  }
  return { state: new Map(), entries: [], from: HEADER_BYTES };
}

export class ConfigStore {
  private readonly listeners = new Set<CommitListener>();
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private readonly log: LogFile,
    private readonly lock: DirectoryLock,
    private readonly state: State,
    private readonly entries: IndexedEntry[],
    private lastSnapshot: number,
    readonly recovery: Recovery,
    private readonly logger: Logger,
    private readonly snapshotEvery: number,
    private readonly now: () => number,
  ) {}

  // Throws StoreOpenError when the directory is locked by a live process or the log is damaged
  // anywhere but its tail; a torn tail is cut and reported in `recovery`.
  static async open(dir: string, opts: ConfigStoreOptions = {}): Promise<ConfigStore> {
    const logger = opts.logger ?? createLogger('control-plane.store');
    await ensurePrivateDir(dir);
    const lock = await DirectoryLock.acquire(dir);
    let log: LogFile | undefined;
    try {
      const opened = await LogFile.open(join(dir, 'changes.log'));
      if (!opened.ok) throw new StoreOpenError('corrupt', opened.error);
      log = opened.value;
      const base = await loadBase(dir, log, logger);
      const scan = await log.scan(base.from, base.entries.length + 1);
      if (!scan.ok) {
        throw new StoreOpenError(
          'corrupt',
          `${log.path} is damaged at byte ${scan.error.offset}: ${scan.error.reason}. A crash only tears the last record, so this is not one; restore ${dir} from a backup`,
        );
      }
      const recovery: Recovery = { truncatedBytes: 0 };
      if (scan.value.torn) {
        recovery.truncatedBytes = log.size - scan.value.goodEnd;
        recovery.reason = `torn record at byte ${scan.value.torn.offset}: ${scan.value.torn.reason}`;
        logger.warn('cut a torn write from the end of the config log', { file: log.path, ...recovery });
        await log.cut(scan.value.goodEnd);
      }
      const lastSnapshot = base.entries.length;
      for (const { record, offset, length } of scan.value.records) {
        applyRecord(base.state, record);
        base.entries.push(entryOf(record, offset, length));
      }
      logger.info('config store opened', { dir, revision: base.entries.length, fromSnapshot: lastSnapshot || undefined, replayed: scan.value.records.length });
      return new ConfigStore(dir, log, lock, base.state, base.entries, lastSnapshot, recovery, logger, opts.snapshotEvery ?? 500, opts.now ?? Date.now);
    } catch (error) {
      await log?.close();
      await lock.release();
      throw error;
    }
  }

  get revision(): number {
    return this.entries.length;
  }

  // Returned objects are frozen: they are the store's own, shared with every reader.
  get(kind: string, namespace: string, name: string): StoredResource | undefined {
    return this.state.get(resourceKey(kind, namespace, name));
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    return sortedEntries(this.state)
      .map(([, resource]) => resource)
      .filter((r) => (kind === undefined || r.kind === kind) && (namespace === undefined || (r.metadata.namespace ?? '') === namespace));
  }

  // Newest first.
  history(opts: { limit?: number } = {}): HistoryEntry[] {
    const from = opts.limit === undefined ? 0 : Math.max(0, this.entries.length - opts.limit);
    return this.entries
      .slice(from)
      .reverse()
      .map(({ offset: _offset, length: _length, summary, ...entry }) => ({ ...entry, summary: summary.map((s) => ({ ...s })) }));
  }

  // Folds the log from its start: reads are synchronous and cost one pass over the log up to `revision`.
  stateAt(revision: number): Result<Map<string, StoredResource>, StoreError> {
    if (!Number.isSafeInteger(revision) || revision < 0 || revision > this.revision) {
      return err({ kind: 'unknown-revision', message: `no revision ${revision}; the store is at revision ${this.revision}` });
    }
    if (revision === this.revision) return ok(new Map(this.state));
    const state: State = new Map();
    if (revision === 0) return ok(state);
    const last = this.entries[revision - 1];
    if (!last) throw new Error(`config store: no history entry for revision ${revision}`);
    let scanned;
    try {
      scanned = scanRecords(this.log.readRange(HEADER_BYTES, last.offset + last.length), HEADER_BYTES, 1);
    } catch (error) {
      return err({ kind: 'io', message: `reading ${this.log.path}: ${String(error)}` });
    }
    if (!scanned.ok || scanned.value.torn || scanned.value.records.length !== revision) {
      const where = scanned.ok ? `${scanned.value.records.length} records` : `byte ${scanned.error.offset}: ${scanned.error.reason}`;
      return err({ kind: 'io', message: `${this.log.path} no longer reads back up to revision ${revision} (${where})` });
    }
    for (const { record } of scanned.value.records) applyRecord(state, record);
    return ok(state);
  }

  // All or nothing; resolves once the batch's one record is fsynced. A batch of no-ops writes nothing.
  commit(changes: Change[], meta: ChangeMeta): Promise<Result<CommitResult, StoreError>> {
    return this.enqueue(async () => this.apply(changes, meta));
  }

  // Restores the state at `revision` as a new revision; nothing is written if it is the current state.
  rollback(revision: number, meta: ChangeMeta): Promise<Result<CommitResult, StoreError>> {
    return this.enqueue(async () => {
      const target = this.stateAt(revision);
      if (!target.ok) return target;
      return this.apply(diffStates(this.state, target.value), meta, revision);
    });
  }

  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Commits already called complete first; later ones get `closed`.
  close(): Promise<void> {
    this.closing ??= this.queue.then(async () => {
      await this.log.close();
      await this.lock.release();
    });
    return this.closing;
  }

  private enqueue(task: () => Promise<Result<CommitResult, StoreError>>): Promise<Result<CommitResult, StoreError>> {
    if (this.closing) return Promise.resolve(err({ kind: 'closed', message: `config store ${this.dir} is closed` }));
    const run = this.queue.then(task);
    // The snapshot runs after the caller has its answer, but before the next commit.
    this.queue = run.then(
      () => this.maybeSnapshot(),
      () => undefined,
    );
    return run;
  }

  private async apply(changes: Change[], meta: ChangeMeta, rollbackTo?: number): Promise<Result<CommitResult, StoreError>> {
    const rev = this.revision + 1;
    const time = new Date(this.now()).toISOString();
    const plan = planCommit(this.state, changes, rev, time);
    if (!plan.ok) return plan;
    if (plan.value.changes.length === 0) return ok({ revision: this.revision, changed: plan.value.changed });
    const record: LogRecord = { rev, time, actor: meta.actor, op: rollbackTo === undefined ? 'commit' : 'rollback', changes: plan.value.changes };
    if (meta.message !== undefined) record.message = meta.message;
    if (rollbackTo !== undefined) record.rollbackTo = rollbackTo;
    const bytes = encodeRecord(record);
    const offset = this.log.size;
    const appended = await this.log.append(bytes);
    if (!appended.ok) return err({ kind: 'io', message: appended.error });
    applyRecord(this.state, record);
    this.entries.push(entryOf(record, offset, bytes.length));
    this.notify(rev, plan.value.changed.filter((c) => c.action !== 'unchanged').map((c) => c.key));
    return ok({ revision: rev, changed: plan.value.changed });
  }

  private notify(revision: number, keys: string[]): void {
    for (const listener of this.listeners) {
      // A failing listener must not fail a commit that is already durable.
      try {
        listener(revision, keys);
      } catch (error) {
        this.logger.error('config store commit listener threw', { revision, error: String(error) });
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.revision - this.lastSnapshot < this.snapshotEvery) return;
    const last = this.entries[this.entries.length - 1];
    if (!last) return;
    const revision = this.revision;
    try {
      await writeSnapshot(this.dir, { revision, logEnd: last.offset + last.length, resources: [...this.state.values()], history: this.entries });
      this.lastSnapshot = revision;
    } catch (error) {
      // Only start-up speed depends on snapshots; the next commit tries again.
      this.logger.warn('config snapshot failed', { revision, error: String(error) });
    }
  }
}
