// Folding the log into state, and planning a batch of changes against it (all or nothing).
import { err, ok, type Result } from '@tsmesh/proto';
import type { LogRecord, RecordChange } from './log-format.js';
import { keyOf, resourceKey, type Change, type ChangedKey, type StoredResource, type StoreError } from './types.js';

export type State = Map<string, StoredResource>;

// Stored objects are shared between the state, snapshots of it and every caller of get/list.
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function applyRecord(state: State, record: LogRecord): void {
  for (const change of record.changes) {
    if (change.action === 'deleted') state.delete(change.key);
    else state.set(keyOf(change.resource), deepFreeze(change.resource));
  }
}

export function summaryOf(record: LogRecord): ChangedKey[] {
  return record.changes.map((change) => (change.action === 'deleted' ? { key: change.key, action: 'deleted' } : { key: keyOf(change.resource), action: change.action }));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
  return out;
}

// What the user wrote, without the fields the store owns: equal contents mean a no-op put.
function content(resource: StoredResource): string {
  const { resourceVersion: _rv, generation: _gen, creationTimestamp: _ts, ...metadata } = resource.metadata;
  return JSON.stringify(canonical({ ...resource, metadata }));
}

export function sameContent(a: StoredResource, b: StoredResource): boolean {
  return content(a) === content(b);
}

// Callers validate resources before the store sees them, so a shapeless one is a bug, not a Result.
function normalise(resource: StoredResource): StoredResource {
  const copy = JSON.parse(JSON.stringify(resource)) as StoredResource;
  if (typeof copy.kind !== 'string' || copy.kind === '' || typeof copy.metadata !== 'object' || copy.metadata === null) {
    throw new TypeError('config store: a resource needs a kind and metadata');
  }
  if (typeof copy.metadata.name !== 'string' || copy.metadata.name === '') throw new TypeError(`config store: a ${copy.kind} without metadata.name`);
  if (copy.metadata.namespace === '') delete copy.metadata.namespace;
  return copy;
}

export interface Plan {
  changes: RecordChange[];
  changed: ChangedKey[];
}

// Checks every change against the state as the batch leaves it so far; any refusal refuses the batch.
export function planCommit(state: State, batch: Change[], rev: number, time: string): Result<Plan, StoreError> {
  const pending = new Map<string, StoredResource | null>();
  const current = (key: string): StoredResource | undefined => {
    const value = pending.get(key);
    return value === null ? undefined : (value ?? state.get(key));
  };
  const changes: RecordChange[] = [];
  const changed: ChangedKey[] = [];
  for (const change of batch) {
    if (change.op === 'delete') {
      const key = resourceKey(change.kind, change.namespace, change.name);
      if (!current(key)) return err({ kind: 'not-found', message: `cannot delete ${key}: it does not exist` });
      pending.set(key, null);
      changes.push({ action: 'deleted', key });
      changed.push({ key, action: 'deleted' });
      continue;
    }
    const incoming = normalise(change.resource);
    const key = keyOf(incoming);
    const prior = current(key);
    const expected = incoming.metadata.resourceVersion;
    if (expected !== undefined && expected !== prior?.metadata.resourceVersion) {
      const found = prior ? `it is at resourceVersion ${prior.metadata.resourceVersion}` : 'it does not exist';
      return err({ kind: 'conflict', message: `${key} was changed since resourceVersion ${expected} was read: ${found}` });
    }
    if (prior && sameContent(prior, incoming)) {
      changed.push({ key, action: 'unchanged' });
      continue;
    }
    const { resourceVersion: _rv, generation: _gen, creationTimestamp: _ts, ...metadata } = incoming.metadata;
    const stored: StoredResource = {
      ...incoming,
      metadata: {
        ...metadata,
        resourceVersion: String(rev),
        generation: (prior?.metadata.generation ?? 0) + 1,
        creationTimestamp: prior?.metadata.creationTimestamp ?? time,
      },
    };
    pending.set(key, stored);
    const action = prior ? 'configured' : 'created';
    changes.push({ action, resource: stored });
    changed.push({ key, action });
  }
  return ok({ changes, changed });
}

// The changes that turn `current` into `target` (for rollback), deletions first, in key order.
export function diffStates(current: State, target: State): Change[] {
  const changes: Change[] = [];
  for (const [key, resource] of sortedEntries(current)) {
    if (target.has(key)) continue;
    changes.push({ op: 'delete', kind: resource.kind, namespace: resource.metadata.namespace ?? '', name: resource.metadata.name });
  }
  for (const [key, resource] of sortedEntries(target)) {
    const now = current.get(key);
    if (now && sameContent(now, resource)) continue;
    // The restored object is a new change of the current one: no optimistic check against the old version.
    const { resourceVersion: _rv, ...metadata } = resource.metadata;
    changes.push({ op: 'put', resource: { ...resource, metadata } });
  }
  return changes;
}

export function sortedEntries(state: State): Array<[string, StoredResource]> {
  return [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
