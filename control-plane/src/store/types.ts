// The config store's vocabulary: resources, changes, history entries and errors, shared by every store file.
export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  spec?: unknown;
  [k: string]: unknown;
}

export type Change = { op: 'put'; resource: StoredResource } | { op: 'delete'; kind: string; namespace: string; name: string };

export interface ChangeMeta {
  // Who made the change, e.g. the SPIFFE ID of the admin.
  actor: string;
  // Why, e.g. "meshctl apply -f shop.yaml".
  message?: string;
}

export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface ChangedKey {
  key: string;
  action: ChangeAction;
}

export interface CommitResult {
  revision: number;
  changed: ChangedKey[];
}

export type StoreErrorKind = 'not-found' | 'conflict' | 'io' | 'unknown-revision' | 'closed';

// `io` on commit: the batch is not in the store's state. After a failed fsync the record may
// still reach the disk, so later commits are refused until a reopen reads back what is there.
export interface StoreError {
  kind: StoreErrorKind;
  message: string;
}

export interface HistoryEntry {
  revision: number;
  time: string;
  actor: string;
  message?: string;
  op: 'commit' | 'rollback';
  rollbackTo?: number;
  summary: ChangedKey[];
}

export interface Recovery {
  // Bytes cut from the end of the log on open (a write torn by a crash; never acknowledged).
  truncatedBytes: number;
  reason?: string;
}

// Refusals of ConfigStore.open: the directory is someone else's, or the log is damaged beyond a torn tail.
export class StoreOpenError extends Error {
  readonly code = 'MESH_ERR_STORE_OPEN';

  constructor(
    readonly reason: 'locked' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function keyOf(resource: StoredResource): string {
  return resourceKey(resource.kind, resource.metadata.namespace ?? '', resource.metadata.name);
}
