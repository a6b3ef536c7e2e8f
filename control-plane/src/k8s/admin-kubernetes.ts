// The admin API in Kubernetes mode: the custom resources are the configuration, so meshctl reads them and kubectl writes them.
import * as grpc from '@grpc/grpc-js';
import { findKind, KINDS, type AdminHandlers } from '@tsmesh/proto';
import { authorizeAdmin, serviceError } from '../admin/authorize.js';
import type { ResourceSource } from '../discovery/config-view.js';

const USE_KUBECTL = 'in Kubernetes mode the mesh resources are custom resources: change them with kubectl (kubectl apply -f FILE, kubectl delete, or your GitOps tool); the embedded store is not used';

export function kubernetesAdminHandlers(handlers: AdminHandlers, resources: ResourceSource, trustDomain: string): AdminHandlers {
  const refuse = (what: string) => (call: { getAuthContext(): { sslPeerCertificate?: { subjectaltname?: string } } }, callback: (error: grpc.ServiceError) => void): void => {
    const auth = authorizeAdmin(call, trustDomain);
    callback(auth.ok ? serviceError(grpc.status.FAILED_PRECONDITION, `meshctl ${what}: ${USE_KUBECTL}`) : auth.error);
  };
  return {
    ...handlers,
    Apply: refuse('apply'),
    Delete: refuse('delete'),
    Rollback: refuse('rollback'),
    GetResources(call, callback) {
      const auth = authorizeAdmin(call, trustDomain);
      if (!auth.ok) return callback(auth.error);
      const { kind: kindName, namespace, name } = call.request;
      const kind = kindName ? findKind(kindName) : undefined;
      if (kindName && !kind) return callback(serviceError(grpc.status.INVALID_ARGUMENT, `unknown kind "${kindName}"; expected one of ${KINDS.map((k) => k.kind).join(', ')}`));
      let found = resources.list(kind?.kind, kind && !kind.namespaced ? undefined : namespace || undefined);
      if (name) found = found.filter((r) => r.metadata.name === name);
      if (name && found.length === 0) return callback(serviceError(grpc.status.NOT_FOUND, `${kind?.kind ?? 'resource'} "${name}"${namespace ? ` in namespace ${namespace}` : ''} not found among the valid custom resources (an invalid one is skipped; see the control plane's log)`));
      // No revision: the API server's resourceVersions are per object.
      callback(null, { revision: 0, resources_json: found.map((r) => JSON.stringify(r)) });
    },
  };
}
