// meshctl: the operator's CLI for the control plane's admin API.
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import * as grpc from '@grpc/grpc-js';
import { parseDuration, isValidName } from '@tsmesh/proto';
import { readMeshctlConfig, defaultConfigPath } from '../cli/client-config.js';
import { AdminClient, AdminApiError } from '../cli/admin-client.js';
import { formatTable } from '../cli/table.js';

// Exit codes scripts can rely on.
const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

const USAGE = `meshctl: manage a tsmesh mesh.

Usage: meshctl [--config FILE] [--server HOST:PORT] COMMAND [options]

Commands:
  token create --namespace NS --service-account SA [--ttl 10m] [--uses 1] [-o text|json]
        Mint a short-lived join token a sidecar trades for its first certificate.
  proxy-status [-o table|json|yaml]
        Every connected sidecar: identity, config version sent and ACKed, SYNCED / STALE / NACKED.
  version

Config: --config, else $MESHCTL_CONFIG, else ${defaultConfigPath({})} (written by mesh-control-plane init).
Exit codes: 0 ok, 1 the control plane refused or failed, 2 bad usage, 3 control plane unreachable.
`;

function die(message: string, code: number): never {
  process.stderr.write(`meshctl: ${message}\n`);
  process.exit(code);
}

const argv = process.argv.slice(2);
let parsed;
try {
  parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      server: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      output: { type: 'string', short: 'o' },
      namespace: { type: 'string', short: 'n' },
      'service-account': { type: 'string' },
      ttl: { type: 'string' },
      uses: { type: 'string' },
    },
  });
} catch (error) {
  die(`${(error as Error).message}; see meshctl --help`, EXIT.usage);
}
const { values, positionals } = parsed;
const [command, sub] = positionals;
if (values.help || !command) {
  process.stdout.write(USAGE);
  process.exit(values.help ? EXIT.ok : EXIT.usage);
}
if (command === 'version') {
  process.stdout.write('meshctl 0.1.0\n');
  process.exit(EXIT.ok);
}

const configPath = values.config ?? defaultConfigPath();
const config = readMeshctlConfig(configPath);
if (!config.ok) die(config.error, EXIT.usage);
const client = new AdminClient({ ...config.value, ...(values.server ? { server: values.server } : {}) });

function output(format: string | undefined, allowed: string[]): string {
  const chosen = format ?? allowed[0] ?? 'table';
  if (!allowed.includes(chosen)) die(`-o ${chosen}: choose one of ${allowed.join(', ')}`, EXIT.usage);
  return chosen;
}

async function run(): Promise<void> {
  if (command === 'token' && sub === 'create') {
    const format = output(values.output, ['text', 'json']);
    const namespace = values.namespace ?? die('token create needs --namespace', EXIT.usage);
    const serviceAccount = values['service-account'] ?? die('token create needs --service-account', EXIT.usage);
    for (const [flag, value] of [['--namespace', namespace], ['--service-account', serviceAccount]] as const) {
      if (!isValidName(value)) die(`${flag}: "${value}" is not a DNS-1123 label`, EXIT.usage);
    }
    const ttl = parseDuration(values.ttl ?? '10m', '--ttl');
    if (!ttl.ok) die(ttl.error, EXIT.usage);
    const uses = Number(values.uses ?? '1');
    if (!Number.isInteger(uses) || uses < 1) die(`--uses: "${values.uses}" must be a whole number >= 1`, EXIT.usage);
    const token = await client.createJoinToken({ namespace, serviceAccount, ttlSeconds: Math.ceil(ttl.value / 1000), maxUses: uses });
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify({ token: token.token, tokenId: token.token_id, spiffeId: token.spiffe_id, expires: new Date(token.expires_unix_ms).toISOString() })}\n`);
    } else {
      process.stdout.write(`${token.token}\n`);
      process.stderr.write(`token ${token.token_id} for ${token.spiffe_id}, valid until ${new Date(token.expires_unix_ms).toISOString()}\n`);
    }
    return;
  }
  if (command === 'proxy-status') {
    const format = output(values.output, ['table', 'json', 'yaml']);
    const { proxies } = await client.listProxies();
    const rows = proxies.map((p) => ({
      node: p.node_id,
      identity: p.spiffe_id,
      service: p.service ? `${p.service}.${p.namespace}` : `(client) ${p.namespace}`,
      inbound: p.inbound_address,
      types: Object.fromEntries(p.types.map((t) => [t.type_url.split('.').pop() ?? t.type_url, { state: t.state, versionSent: t.version_sent, versionAcked: t.version_acked, error: t.error, since: new Date(Number(t.since_unix_ms)).toISOString() }])),
    }));
    if (format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else if (format === 'yaml') process.stdout.write(YAML.stringify(rows));
    else {
      const table = rows.map((r) => {
        const states = Object.entries(r.types);
        const worst = states.find(([, t]) => t.state === 'NACKED') ?? states.find(([, t]) => t.state === 'STALE') ?? states[0];
        return [r.node, r.service, r.identity, worst?.[1].state ?? '-', states.map(([name, t]) => `${name}=${t.versionAcked || '-'}`).join(' '), worst?.[1].error ?? ''];
      });
      process.stdout.write(formatTable(['NODE', 'SERVICE', 'IDENTITY', 'STATUS', 'ACKED VERSIONS', 'ERROR'], table));
      if (rows.length === 0) process.stdout.write('no sidecars connected\n');
    }
    return;
  }
  die(`unknown command "${[command, sub].filter(Boolean).join(' ')}"; see meshctl --help`, EXIT.usage);
}

try {
  await run();
  client.close();
  process.exit(EXIT.ok);
} catch (error) {
  client.close();
  if (error instanceof AdminApiError) {
    const unreachable = error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED;
    die(unreachable ? `cannot reach the control plane at ${values.server ?? config.value.server}: ${error.message}` : error.message, unreachable ? EXIT.unreachable : EXIT.failed);
  }
  throw error;
}
