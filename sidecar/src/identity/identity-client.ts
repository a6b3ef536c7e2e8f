// Gets a workload certificate from the control plane's CA: with a bootstrap token first, then renewing over mTLS.
import * as grpc from '@grpc/grpc-js';
import { meshProtos, generateKeyPair, createCsr, certificateInfo, expectControlPlane, ok, err, type CreateCertificateResponse__Output, type Result } from '@tsmesh/proto';
import type { TlsMaterial } from './tls-material.js';

export interface CertificateRequestOptions {
  controlPlaneAddress: string;
  controlPlaneIdentity: string;
  spiffeId: string;
  // Roots to trust the control plane with: the operator's CA file at bootstrap, the live bundle later.
  trustBundlePem: string[];
  // Bootstrap proof, omitted when renewing with `current`: a join token, or in Kubernetes the pod's projected
  // service-account token. Both go as a bearer token; the control plane tells them apart by the join token's
  // prefix (tsmesh-jt.v1.), so the sidecar needs no setting of its own for which kind it holds.
  joinToken?: string;
  current?: TlsMaterial;
  requestedTtlMs?: number;
  deadlineMs?: number;
}

export async function requestCertificate(options: CertificateRequestOptions): Promise<Result<TlsMaterial, string>> {
  const keys = await generateKeyPair();
  const csrPem = createCsr({ ...keys, spiffeId: options.spiffeId });
  const roots = Buffer.from(options.trustBundlePem.join(''));
  const verify = {
    checkServerIdentity: expectControlPlane(options.controlPlaneIdentity),
  };
  const credentials = options.current
    ? grpc.credentials.createSsl(roots, Buffer.from(options.current.keyPem), Buffer.from(options.current.certChainPem), verify)
    : grpc.credentials.createSsl(roots, null, null, verify);
  const { Identity } = meshProtos().identity.tsmesh.identity.v1;
  // SNI carries a name, not the dialled IP (RFC 6066); identity is checked by SPIFFE ID above.
  const client = new Identity(options.controlPlaneAddress, credentials, { 'grpc.ssl_target_name_override': 'mesh-control-plane' });
  const metadata = new grpc.Metadata();
  if (options.joinToken) metadata.set('authorization', `Bearer ${options.joinToken}`);
  const deadline = new Date(Date.now() + (options.deadlineMs ?? 10_000));
  try {
    const response = await new Promise<CreateCertificateResponse__Output>((resolve, reject) => {
      client.CreateCertificate({ csr_pem: csrPem, requested_ttl_seconds: Math.ceil((options.requestedTtlMs ?? 0) / 1000) }, metadata, { deadline }, (error, value) => {
        if (error || !value) reject(error ?? new Error('empty response'));
        else resolve(value);
      });
    });
    const leafPem = response.cert_chain_pem[0];
    if (!leafPem) return err('the CA answered with an empty certificate chain');
    const info = certificateInfo(leafPem);
    if (!info.spiffeIds.includes(options.spiffeId)) return err(`the CA issued a certificate for ${info.spiffeIds.join(', ')}, not ${options.spiffeId}`);
    return ok({
      keyPem: keys.privateKeyPem,
      certChainPem: response.cert_chain_pem.join(''),
      trustBundlePem: response.trust_bundle_pem,
      spiffeId: options.spiffeId,
      notAfter: info.notAfter,
    });
  } catch (error) {
    const e = error as grpc.ServiceError;
    const code = typeof e.code === 'number' ? grpc.status[e.code] : 'ERROR';
    return err(`certificate request to ${options.controlPlaneAddress} failed: ${code}: ${e.details || e.message}`);
  } finally {
    client.close();
  }
}
