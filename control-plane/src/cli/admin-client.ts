// A promise-returning client for the admin API, authenticated with meshctl's admin certificate.
import * as grpc from '@grpc/grpc-js';
import { userInfo, hostname } from 'node:os';
import { meshProtos, expectControlPlane, type AdminClient as GeneratedAdminClient, type CreateJoinTokenResponse__Output, type ListProxiesResponse__Output, type ChangeResponse__Output, type GetResourcesResponse__Output, type HistoryResponse__Output } from '@tsmesh/proto';
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
    const credentials = grpc.credentials.createSsl(Buffer.from(config.certificateAuthorityData), Buffer.from(config.clientKeyData), Buffer.from(config.clientCertificateData), {
      checkServerIdentity: expectControlPlane(config.controlPlaneIdentity),
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

  apply(resources: unknown[], options: { dryRun?: boolean; message?: string; skipSemanticChecks?: boolean } = {}): Promise<ChangeResponse__Output> {
    return this.unary((cb) => this.client.Apply({ resources_json: resources.map((r) => JSON.stringify(r)), dry_run: options.dryRun ?? false, message: options.message ?? '', skip_semantic_checks: options.skipSemanticChecks ?? false }, this.metadata(), this.options(), cb));
  }

  delete(refs: Array<{ kind: string; namespace: string; name: string }>, options: { dryRun?: boolean; message?: string } = {}): Promise<ChangeResponse__Output> {
    return this.unary((cb) => this.client.Delete({ refs, dry_run: options.dryRun ?? false, message: options.message ?? '' }, this.metadata(), this.options(), cb));
  }

  get(query: { kind?: string; namespace?: string; name?: string }): Promise<GetResourcesResponse__Output> {
    return this.unary((cb) => this.client.GetResources({ kind: query.kind ?? '', namespace: query.namespace ?? '', name: query.name ?? '' }, this.options(), cb));
  }

  history(limit = 50): Promise<HistoryResponse__Output> {
    return this.unary((cb) => this.client.History({ limit }, this.options(), cb));
  }

  rollback(revision: number, message?: string): Promise<ChangeResponse__Output> {
    return this.unary((cb) => this.client.Rollback({ revision, message: message ?? '' }, this.metadata(), this.options(), cb));
  }

  getProxyConfig(proxy: string): Promise<unknown> {
    return this.unary<{ config_json: string }>((cb) => this.client.GetProxyConfig({ proxy }, this.options(), cb)).then((r) => JSON.parse(r.config_json) as unknown);
  }

  private options(): grpc.CallOptions {
    return { deadline: new Date(Date.now() + 10_000) };
  }

  // Who ran the command, for history; the certificate, not this, is what authorizes.
  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (containers); keep "unknown".
    }
    metadata.set('x-meshctl-user', `${user}@${hostname()}`);
    return metadata;
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
