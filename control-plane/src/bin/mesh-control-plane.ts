// mesh-control-plane: `init` makes the CA and meshctl's admin credentials; `serve` runs the control plane.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TRUST_DOMAIN, createLogger, parseDuration } from '@tsmesh/proto';
import { initCertificateAuthority, CaSetupError } from '../ca/index.js';
import { writeMeshctlConfig, defaultConfigPath } from '../cli/client-config.js';

import { startControlPlaneServer, controlPlaneSpiffeId } from '../server.js';
import { splitListen } from '../observability/http-server.js';
import { startInjectionWebhook } from '../k8s/webhook.js';
import { TOKEN_AUDIENCE } from '../k8s/sidecar-spec.js';

const USAGE = `mesh-control-plane: the tsmesh control plane (CA, discovery, admin API).

Usage:
  mesh-control-plane init  --data-dir DIR [--trust-domain TD] [--ca-cert FILE --ca-key FILE [--ca-chain FILE]]
                           [--meshctl-config FILE] [--server HOST:PORT] [--force]
      Makes the CA (a new self-signed root, or the operator's root/intermediate), stores it in DIR
      with mode 0600, and writes meshctl's config with an admin certificate
      (default ${defaultConfigPath()}).

  mesh-control-plane serve --data-dir DIR [--listen HOST:PORT] [--workload-cert-ttl DURATION]
                           [--max-cert-ttl DURATION] [--dns-name NAME]...
                           [--http-listen HOST:PORT] [--otlp-endpoint URL] [--stream-listen HOST:PORT]
      Serves identity, discovery and admin on one mTLS gRPC port (default 127.0.0.1:15012), and
      plain HTTP (default 127.0.0.1:15014, or any free port if that is taken; keep it on loopback
      or behind an authenticating proxy)
      for /metrics, /ready, OTLP/HTTP trace intake at /v1/traces and recent traces at /traces.
      --otlp-endpoint also sends the control plane's own spans to that OTLP/HTTP collector.
      --webhook-listen HOST:PORT [--sidecar-image IMG] [--inject-otlp-endpoint URL] [--inject-trace-sampling PCT]
      serves the Kubernetes sidecar-injection webhook (AdmissionReview v1, HTTPS).
      --kubernetes | --kubeconfig FILE [--token-audience AUD]
      runs in a Kubernetes cluster (the pod's service account, or the cluster of FILE's current
      context): mesh resources come from the custom resources (meshctl apply is refused; use
      kubectl), endpoints from EndpointSlices of pods with the injected sidecar, sidecars prove
      their service account with a projected token checked by TokenReview (audience AUD, default
      tsmesh), and the trust bundle is published as ConfigMap tsmesh-ca-root in every namespace
      labelled tsmesh.dev/inject=enabled. Join tokens keep working beside it.
      --stream-listen: mTLS WebSockets for meshctl tap/top/stat and the sidecars' streams
      (default 127.0.0.1:15015, or any free port if that is taken).
      Prints {"event":"listening","address":...,"httpAddress":...,"otlpEndpoint":...} on stdout
      once it accepts connections; point sidecars' --otlp-endpoint at otlpEndpoint when there is
      no collector.

Durations: 500ms, 30s, 10m, 24h, 30d.
`;

const fail = (message: string, code = 2): never => {
  process.stderr.write(`mesh-control-plane: ${message}\n`);
  process.exit(code);
};

const [command, ...rest] = process.argv.slice(2);
if (!command || ['--help', '-h', 'help'].includes(command) || rest.includes('--help')) {
  process.stdout.write(USAGE);
  process.exit(command ? 0 : 2);
}

function parse(args: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options']): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args, options, strict: true }).values;
  } catch (error) {
    return fail(`${(error as Error).message}; see mesh-control-plane --help`);
  }
}

function readFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
}

if (command === 'init') {
  const v = parse(rest, { 'data-dir': { type: 'string' }, 'trust-domain': { type: 'string' }, 'ca-cert': { type: 'string' }, 'ca-key': { type: 'string' }, 'ca-chain': { type: 'string' }, 'meshctl-config': { type: 'string' }, server: { type: 'string' }, force: { type: 'boolean' } });
  const dataDir = typeof v['data-dir'] === 'string' ? resolve(v['data-dir']) : fail('--data-dir is required');
  const trustDomain = typeof v['trust-domain'] === 'string' ? v['trust-domain'] : DEFAULT_TRUST_DOMAIN;
  if ((v['ca-cert'] === undefined) !== (v['ca-key'] === undefined)) fail('--ca-cert and --ca-key go together');
  const supplied = typeof v['ca-cert'] === 'string' && typeof v['ca-key'] === 'string'
    ? { certPem: readFile(v['ca-cert'], '--ca-cert'), keyPem: readFile(v['ca-key'], '--ca-key'), ...(typeof v['ca-chain'] === 'string' ? { chainPem: readFile(v['ca-chain'], '--ca-chain') } : {}) }
    : undefined;
  try {
    const ca = await initCertificateAuthority(dataDir, { trustDomain, ...(supplied ? { supplied } : {}), force: v['force'] === true });
    const admin = await ca.issueAdminCertificate({ name: 'meshctl', ttlMs: 365 * 24 * 3600_000 });
    const configPath = typeof v['meshctl-config'] === 'string' ? resolve(v['meshctl-config']) : defaultConfigPath();
    writeMeshctlConfig(configPath, {
      server: typeof v['server'] === 'string' ? v['server'] : '127.0.0.1:15012',
      trustDomain,
      controlPlaneIdentity: controlPlaneSpiffeId(trustDomain),
      certificateAuthorityData: ca.trustBundle().join(''),
      clientCertificateData: admin.certChainPem.join(''),
      clientKeyData: admin.keyPem,
    });
    process.stdout.write(`initialised the mesh CA for trust domain ${trustDomain} in ${join(dataDir, 'ca')}\nwrote meshctl config (admin certificate, valid until ${admin.notAfter.toISOString()}) to ${configPath}\n`);
  } catch (error) {
    fail((error as Error).message, error instanceof CaSetupError ? 1 : 1);
  }
} else if (command === 'serve') {
  const v = parse(rest, { 'data-dir': { type: 'string' }, listen: { type: 'string' }, 'workload-cert-ttl': { type: 'string' }, 'max-cert-ttl': { type: 'string' }, 'dns-name': { type: 'string', multiple: true }, 'http-listen': { type: 'string' }, 'otlp-endpoint': { type: 'string' }, 'stream-listen': { type: 'string' }, 'webhook-listen': { type: 'string' }, 'inject-otlp-endpoint': { type: 'string' }, 'inject-trace-sampling': { type: 'string' }, 'sidecar-image': { type: 'string' }, kubernetes: { type: 'boolean' }, kubeconfig: { type: 'string' }, 'token-audience': { type: 'string' } });
  const dataDir = typeof v['data-dir'] === 'string' ? resolve(v['data-dir']) : fail('--data-dir is required');
  const listen = typeof v['listen'] === 'string' ? v['listen'] : '127.0.0.1:15012';
  if (!/^.+:\d{1,5}$/.test(listen)) fail(`--listen: "${listen}" must be HOST:PORT`);
  const httpListen = typeof v['http-listen'] === 'string' ? v['http-listen'] : '127.0.0.1:15014';
  if (!splitListen(httpListen)) fail(`--http-listen: "${httpListen}" must be HOST:PORT`);
  const streamListen = typeof v['stream-listen'] === 'string' ? v['stream-listen'] : '127.0.0.1:15015';
  if (!splitListen(streamListen)) fail(`--stream-listen: "${streamListen}" must be HOST:PORT`);
  const otlpEndpoint = typeof v['otlp-endpoint'] === 'string' ? v['otlp-endpoint'] : undefined;
  const webhookListen = typeof v['webhook-listen'] === 'string' ? (splitListen(v['webhook-listen']) ?? fail(`--webhook-listen: "${v['webhook-listen']}" must be HOST:PORT`)) : undefined;
  const sampling = typeof v['inject-trace-sampling'] === 'string' ? Number(v['inject-trace-sampling']) : undefined;
  if (sampling !== undefined && !(sampling >= 0 && sampling <= 100)) fail('--inject-trace-sampling: must be a percentage between 0 and 100');
  if (otlpEndpoint !== undefined && !/^https?:\/\/[^/]+/.test(otlpEndpoint)) fail(`--otlp-endpoint: "${otlpEndpoint}" must be an http:// or https:// URL`);
  const ttl = (flag: string): number | undefined => {
    const value = v[flag];
    if (typeof value !== 'string') return undefined;
    const parsed = parseDuration(value, `--${flag}`);
    return parsed.ok ? parsed.value : fail(parsed.error);
  };
  if (v['kubernetes'] === true && typeof v['kubeconfig'] === 'string') fail('--kubernetes (the pod\'s own service account) and --kubeconfig FILE are two ways to reach the API server; give one');
  const tokenAudience = typeof v['token-audience'] === 'string' ? v['token-audience'] : TOKEN_AUDIENCE;
  if (!/^\S{1,253}$/.test(tokenAudience)) fail(`--token-audience: "${tokenAudience}" must be 1-253 characters without spaces`);
  const kubeSource = v['kubernetes'] === true ? { from: 'in-cluster' as const } : typeof v['kubeconfig'] === 'string' ? { from: 'file' as const, path: resolve(v['kubeconfig']) } : undefined;
  if (!kubeSource && v['token-audience'] !== undefined) fail('--token-audience needs --kubernetes or --kubeconfig');
  // Imported only when asked for: the Kubernetes client takes about a second to load.
  const kubeConfig = kubeSource ? await import('../k8s/kube-config.js').then((m) => m.loadKubeConfig(kubeSource)) : undefined;
  if (kubeConfig && !kubeConfig.ok) fail(kubeConfig.error);
  const logger = createLogger('control-plane');
  try {
    const running = await startControlPlaneServer({
      dataDir,
      listen,
      workloadCertTtlMs: ttl('workload-cert-ttl'),
      maxWorkloadCertTtlMs: ttl('max-cert-ttl'),
      servingDnsNames: Array.isArray(v['dns-name']) ? v['dns-name'] : [],
      logger,
      httpListen,
      // Only the default port gives way (to any free port, reported in the listening line); a chosen one must bind.
      ...(v['http-listen'] === undefined ? { httpListenFallback: '127.0.0.1:0' } : {}),
      ...(otlpEndpoint !== undefined ? { otlpEndpoint } : {}),
      streamListen,
      ...(v['stream-listen'] === undefined ? { streamListenFallback: '127.0.0.1:0' } : {}),
      ...(kubeConfig?.ok ? { kubernetes: { kubeConfig: kubeConfig.value, tokenAudience } } : {}),
    });
    // The Kubernetes mutating admission webhook, when asked for (the k8s manifests do).
    const webhook = webhookListen
      ? await startInjectionWebhook({
          ca: running.ca,
          host: webhookListen.host,
          port: webhookListen.port,
          dnsNames: Array.isArray(v['dns-name']) ? v['dns-name'] : [],
          logger: logger.child('webhook'),
          inject: {
            ...(typeof v['sidecar-image'] === 'string' ? { sidecarImage: v['sidecar-image'] } : {}),
            ...(typeof v['inject-otlp-endpoint'] === 'string' ? { otlpEndpoint: v['inject-otlp-endpoint'] } : {}),
            ...(sampling !== undefined ? { traceSamplingPercent: sampling } : {}),
            tokenAudience,
          },
        })
      : undefined;
    process.stdout.write(`${JSON.stringify({ event: 'listening', address: running.address, trustDomain: running.ca.trustDomain, httpAddress: running.httpAddress, otlpEndpoint: running.otlpEndpoint, streamAddress: running.streamAddress })}\n`);
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info('stopping', { signal });
      void Promise.all([running.stop(), webhook?.close()]).then(() => process.exit(0));
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  } catch (error) {
    fail((error as Error).message, 1);
  }
} else {
  fail(`unknown command "${command}"; try mesh-control-plane --help`);
}
