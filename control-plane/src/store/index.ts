// Public surface of the embedded config store (outside Kubernetes).
export { ConfigStore, type ConfigStoreOptions, type CommitListener } from './config-store.js';
export {
  StoreOpenError,
  resourceKey,
  keyOf,
  type StoredResource,
  type Change,
  type ChangeMeta,
  type ChangeAction,
  type ChangedKey,
  type CommitResult,
  type HistoryEntry,
  type Recovery,
  type StoreError,
  type StoreErrorKind,
} from './types.js';
export { encodeHeader, encodeRecord, scanRecords, crc32, HEADER_BYTES, type LogRecord, type RecordChange } from './log-format.js';
export { applyRecord, planCommit, sameContent, type State } from './state.js';
