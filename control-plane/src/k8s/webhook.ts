// The sidecar injector: a mutating admission webhook (AdmissionReview v1) over HTTPS with a certificate from the mesh CA.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@tsmesh/proto';
import type { CertificateAuthority } from '../ca/index.js';
import { injectObject } from './inject.js';
import { diffJson } from './json-patch.js';
import { DEFAULT_INJECT_OPTIONS, type InjectOptions } from './sidecar-spec.js';

export const WEBHOOK_PATH = '/inject';
export const DEFAULT_WEBHOOK_PORT = 15017;
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const CERT_TTL_MS = 30 * 24 * 3600_000;

export interface WebhookOptions {
  ca: CertificateAuthority;
  host: string;
  port: number;
  // The names the API server dials, e.g. mesh-control-plane.mesh-system.svc.
  dnsNames: string[];
  inject?: Partial<InjectOptions>;
  logger: Logger;
  certTtlMs?: number;
}

export interface RunningWebhook {
  port: number;
  close(): Promise<void>;
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string };
}

export type ReviewAnswer = { status: 200; review: { apiVersion: 'admission.k8s.io/v1'; kind: 'AdmissionReview'; response: AdmissionResponse } } | { status: 400; error: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// One AdmissionReview in, its answer out; pure, so the HTTP layer only moves bytes.
export function answerReview(body: unknown, options: InjectOptions): ReviewAnswer {
  if (!isRecord(body) || body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') {
    return { status: 400, error: 'expected an AdmissionReview of apiVersion admission.k8s.io/v1 (set admissionReviewVersions: ["v1"])' };
  }
  const request = body['request'];
  if (!isRecord(request) || typeof request['uid'] !== 'string' || request['uid'] === '') return { status: 400, error: 'the AdmissionReview has no request.uid' };
  const respond = (response: Omit<AdmissionResponse, 'uid'>): ReviewAnswer => ({ status: 200, review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request['uid'] as string, ...response } } });
  const object = request['object'];
  const kind = isRecord(request['kind']) ? request['kind']['kind'] : undefined;
  // Misrouted reviews (the webhook's rules name more than pods) are let through, but said so.
  if (kind !== 'Pod' || !isRecord(object)) return respond({ allowed: true, warnings: [`tsmesh injector: ${String(kind)} is not a Pod; not injected`] });
  const pod = { apiVersion: 'v1', kind: 'Pod', ...object };
  const result = injectObject(pod, options);
  if (!result.ok) return respond({ allowed: true, warnings: [`tsmesh sidecar not injected: ${result.error}`] });
  if (!result.value.injected) return respond({ allowed: true });
  const patch = diffJson(pod, result.value.object);
  return respond({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse, options: InjectOptions, logger: Logger): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://webhook').pathname;
  if (path !== WEBHOOK_PATH) return sendJson(res, 404, { error: `no such path ${path}; the injector serves POST ${WEBHOOK_PATH}` });
  if (req.method !== 'POST') return sendJson(res, 405, { error: `use POST ${WEBHOOK_PATH}` });
  const raw = await readBody(req);
  if (raw === undefined) return sendJson(res, 413, { error: `the AdmissionReview is larger than ${MAX_BODY_BYTES} bytes` });
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return sendJson(res, 400, { error: `the body is not JSON: ${(error as Error).message}` });
  }
  const answer = answerReview(body, options);
  if (answer.status === 400) {
    logger.warn('malformed admission review', { error: answer.error });
    return sendJson(res, 400, { error: answer.error });
  }
  const { response } = answer.review;
  logger.debug('admission review', { uid: response.uid, patched: response.patch !== undefined, warnings: response.warnings });
  sendJson(res, 200, answer.review);
}

export async function startInjectionWebhook(options: WebhookOptions): Promise<RunningWebhook> {
  const inject: InjectOptions = { ...DEFAULT_INJECT_OPTIONS, ...options.inject };
  const ttlMs = options.certTtlMs ?? CERT_TTL_MS;
  const issue = async (): Promise<{ key: string; cert: string }> => {
    const issued = await options.ca.issueServingCertificate({ dnsNames: options.dnsNames, ttlMs });
    return { key: issued.keyPem, cert: issued.certChainPem.join('') };
  };
  const server: Server = createServer({ ...(await issue()), minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res, inject, options.logger).catch((error: unknown) => {
      options.logger.error('webhook request failed', { error: (error as Error).message });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Renewed at half life and swapped into the listening server; the API server re-reads it on its next connection.
  const renew = setInterval(() => {
    issue().then((pair) => server.setSecureContext({ ...pair, minVersion: 'TLSv1.2' }), (error: unknown) => options.logger.error('webhook certificate renewal failed', { error: (error as Error).message }));
  }, ttlMs / 2);
  renew.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  options.logger.info('injection webhook listening', { port: (server.address() as AddressInfo).port, path: WEBHOOK_PATH });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(renew);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
