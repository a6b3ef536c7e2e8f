// Admin handlers for configuration: apply, delete, get, history, rollback over the durable store.
import * as grpc from '@grpc/grpc-js';
import { validateResource, formatPath, findKind, KINDS, type AdminHandlers, type ResourceChange, type Logger } from '@tsmesh/proto';
import { sameContent, type ConfigStore, type StoredResource, type Change } from '../store/index.js';
import { authorizeAdmin, serviceError } from './authorize.js';

export interface ConfigAdminContext {
  trustDomain: string;
  store: ConfigStore;
  logger: Logger;
}

type ConfigHandlers = Pick<AdminHandlers, 'Apply' | 'Delete' | 'GetResources' | 'History' | 'Rollback'>;

export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function actorOf(caller: string, metadata: grpc.Metadata): string {
  // The user name is what meshctl claims; the SPIFFE ID is what the certificate proved.
  const claimed = metadata.get('x-meshctl-user')[0];
  return typeof claimed === 'string' && claimed ? `${caller} (${claimed.slice(0, 100)})` : caller;
}

const json = (r: StoredResource | undefined): string => (r ? JSON.stringify(r) : '');

export function createConfigHandlers(ctx: ConfigAdminContext): ConfigHandlers {
  const { store } = ctx;
  return {
    Apply(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const problems: string[] = [];
      const puts: StoredResource[] = [];
      call.request.resources_json.forEach((text, index) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          problems.push(`resource ${index + 1}: not JSON: ${(error as Error).message}`);
          return;
        }
        const result = validateResource(value, 'default', { semantic: !call.request.skip_semantic_checks });
        if (!result.ok) {
          for (const issue of result.error) problems.push(`resource ${index + 1}: ${formatPath(issue.path)}: ${issue.message}`);
          return;
        }
        puts.push(result.value as unknown as StoredResource);
      });
      const keys = puts.map((r) => resourceKey(r.kind, r.metadata.namespace ?? '', r.metadata.name));
      const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
      if (duplicate) problems.push(`${duplicate} appears twice in one apply`);
      if (problems.length > 0) return callback(serviceError(grpc.status.INVALID_ARGUMENT, `nothing was applied:\n${problems.join('\n')}`));
      const changes: ResourceChange[] = puts.map((after, i) => {
        const before = store.get(after.kind, after.metadata.namespace ?? '', after.metadata.name);
        return { key: keys[i] ?? '', action: before ? (sameContent(before, after) ? 'unchanged' : 'configured') : 'created', before_json: json(before), after_json: json(after) };
      });
      if (call.request.dry_run || changes.every((c) => c.action === 'unchanged')) return callback(null, { revision: store.revision, changes });
      const batch: Change[] = puts.map((resource) => ({ op: 'put', resource }));
      store.commit(batch, { actor: actorOf(auth.caller, call.metadata), message: call.request.message || 'apply' }).then(
        (result) => {
          if (!result.ok) return callback(serviceError(result.error.kind === 'conflict' ? grpc.status.ABORTED : grpc.status.FAILED_PRECONDITION, result.error.message));
          ctx.logger.info('applied', { revision: result.value.revision, by: auth.caller, changes: changes.map((c) => `${c.action} ${c.key}`) });
          // The stored objects now carry resourceVersion and generation; answer with those.
          callback(null, { revision: result.value.revision, changes: changes.map((c, i) => ({ ...c, after_json: json(store.get(puts[i]!.kind, puts[i]!.metadata.namespace ?? '', puts[i]!.metadata.name)) })) });
        },
        (error: unknown) => callback(serviceError(grpc.status.INTERNAL, `the store failed: ${(error as Error).message}`)),
      );
    },

    Delete(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const problems: string[] = [];
      const changes: ResourceChange[] = [];
      const batch: Change[] = [];
      for (const ref of call.request.refs) {
        const kind = findKind(ref.kind);
        if (!kind) {
          problems.push(`unknown kind "${ref.kind}"; expected one of ${KINDS.map((k) => k.kind).join(', ')}`);
          continue;
        }
        const namespace = kind.namespaced ? ref.namespace || 'default' : '';
        const before = store.get(kind.kind, namespace, ref.name);
        const key = resourceKey(kind.kind, namespace, ref.name);
        if (!before) {
          problems.push(`${key} not found`);
          continue;
        }
        changes.push({ key, action: 'deleted', before_json: json(before), after_json: '' });
        batch.push({ op: 'delete', kind: kind.kind, namespace, name: ref.name });
      }
      if (problems.length > 0) return callback(serviceError(grpc.status.NOT_FOUND, `nothing was deleted:\n${problems.join('\n')}`));
      if (call.request.dry_run || batch.length === 0) return callback(null, { revision: store.revision, changes });
      store.commit(batch, { actor: actorOf(auth.caller, call.metadata), message: call.request.message || 'delete' }).then(
        (result) => (result.ok ? callback(null, { revision: result.value.revision, changes }) : callback(serviceError(grpc.status.FAILED_PRECONDITION, result.error.message))),
        (error: unknown) => callback(serviceError(grpc.status.INTERNAL, `the store failed: ${(error as Error).message}`)),
      );
    },

    GetResources(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const { kind: kindName, namespace, name } = call.request;
      const kind = kindName ? findKind(kindName) : undefined;
      if (kindName && !kind) return callback(serviceError(grpc.status.INVALID_ARGUMENT, `unknown kind "${kindName}"; expected one of ${KINDS.map((k) => k.kind).join(', ')}`));
      let resources = store.list(kind?.kind, kind && !kind.namespaced ? undefined : namespace || undefined);
      if (name) resources = resources.filter((r) => r.metadata.name === name);
      if (name && resources.length === 0) return callback(serviceError(grpc.status.NOT_FOUND, `${kind?.kind ?? 'resource'} "${name}"${namespace ? ` in namespace ${namespace}` : ''} not found`));
      callback(null, { revision: store.revision, resources_json: resources.map((r) => JSON.stringify(r)) });
    },

    History(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const entries = store.history({ limit: call.request.limit || 50 }).map((h) => ({
        revision: h.revision,
        time_unix_ms: Date.parse(h.time),
        actor: h.actor,
        message: h.message ?? '',
        op: h.op,
        rollback_to: h.rollbackTo ?? 0,
        changes: h.summary.map((s) => ({ key: s.key, action: s.action, before_json: '', after_json: '' })),
      }));
      callback(null, { entries });
    },

    Rollback(call, callback) {
      const auth = authorizeAdmin(call, ctx.trustDomain);
      if (!auth.ok) return callback(auth.error);
      const revision = Number(call.request.revision);
      store.rollback(revision, { actor: actorOf(auth.caller, call.metadata), message: call.request.message || `rollback to ${revision}` }).then(
        (result) => {
          if (!result.ok) return callback(serviceError(result.error.kind === 'unknown-revision' ? grpc.status.NOT_FOUND : grpc.status.FAILED_PRECONDITION, result.error.message));
          ctx.logger.info('rolled back', { to: revision, revision: result.value.revision, by: auth.caller });
          callback(null, { revision: result.value.revision, changes: result.value.changed.map((c) => ({ key: c.key, action: c.action, before_json: '', after_json: '' })) });
        },
        (error: unknown) => callback(serviceError(grpc.status.INTERNAL, `the store failed: ${(error as Error).message}`)),
      );
    },
  };
}
