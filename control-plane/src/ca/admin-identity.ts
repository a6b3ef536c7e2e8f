// The reserved identities of the mesh's own components: meshctl's admin identity lives in mesh-system.
import { formatSpiffeId } from '@tsmesh/proto';

export const MESH_SYSTEM_NAMESPACE = 'mesh-system';
export const ADMIN_SA = 'mesh-admin';

export function adminSpiffeId(trustDomain: string): string {
  return formatSpiffeId({ trustDomain, namespace: MESH_SYSTEM_NAMESPACE, serviceAccount: ADMIN_SA });
}

export function isAdminIdentity(spiffeId: string, trustDomain: string): boolean {
  return spiffeId === adminSpiffeId(trustDomain);
}
