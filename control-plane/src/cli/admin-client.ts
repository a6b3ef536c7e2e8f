// A promise-returning client for the admin API, authenticated with meshctl's admin certificate.
import * as grpc from '@grpc/grpc-js';
import { meshProtos, spiffeIdsFromSubjectAltName, type AdminClient as GeneratedAdminClient, type CreateJoinTokenResponse__Output, type ListProxiesResponse__Output } from '@tsmesh/proto';
import type { MeshctlConfig } from './client-config.js';

export class AdminApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export class AdminClient {
  private readonly client: GeneratedAdminClient;

  constructor(config: MeshctlConfig) {
    const expected = config.controlPlaneIdentity;
    const credentials = grpc.credentials.createSsl(Buffer.from(config.certificateAuthorityData), Buffer.from(config.clientKeyData), Buffer.from(config.clientCertificateData), {
      checkServerIdentity: (_host, cert) => {
        const ids = spiffeIdsFromSubjectAltName(cert.subjectaltname);
        return ids.includes(expected) ? undefined : new Error(`the server presented ${ids.join(', ') || 'no SPIFFE ID'}, not the control plane ${expected}`);
      },
    });
    const { Admin } = meshProtos().admin.tsmesh.admin.v1;
    // SNI carries a name, not the dialled IP (RFC 6066); identity is checked by SPIFFE ID above.
    this.client = new Admin(config.server, credentials, { 'grpc.ssl_target_name_override': 'mesh-control-plane' });
  }

  close(): void {
    this.client.close();
  }

  createJoinToken(request: { namespace: string; serviceAccount: string; ttlSeconds: number; maxUses: number }): Promise<CreateJoinTokenResponse__Output> {
    return this.unary((cb) => this.client.CreateJoinToken({ namespace: request.namespace, service_account: request.serviceAccount, ttl_seconds: request.ttlSeconds, max_uses: request.maxUses }, this.options(), cb));
  }

  listProxies(): Promise<ListProxiesResponse__Output> {
    return this.unary((cb) => this.client.ListProxies({}, this.options(), cb));
  }

  private options(): grpc.CallOptions {
    return { deadline: new Date(Date.now() + 10_000) };
  }

  private unary<T>(start: (callback: (error: grpc.ServiceError | null, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      start((error, value) => {
        if (error) reject(new AdminApiError(error.code, `${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`));
        else if (value === undefined) reject(new AdminApiError(grpc.status.INTERNAL, 'empty response'));
        else resolve(value);
      });
    });
  }
}
