// meshctl: the operator's CLI for the control plane's admin API.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { readMeshctlConfig, defaultConfigPath } from '../cli/client-config.js';
import { AdminClient, AdminApiError } from '../cli/admin-client.js';
import { commands, EXIT, UsageError, type Io, type Options } from '../cli/commands.js';
import { explainCommand, proxyConfigCommand } from '../cli/commands-inspect.js';

const USAGE = `meshctl: manage a tsmesh mesh.

Usage: meshctl [--config FILE] [--server HOST:PORT] COMMAND [options]

Configuration:
  apply -f FILE|DIR|- [-n NS] [--dry-run] [--validate=false]
                                            create or update resources (all documents or none);
                                            --validate=false skips semantic checks (sidecars still
                                            check, and NACK what they cannot apply)
  diff -f FILE|DIR|- [-n NS]                what apply would change (exit 1 when something would)
  get KIND [NAME] [-n NS | -A] [-o table|yaml|json]
  describe KIND NAME [-n NS]                a resource and the revisions that touched it
  delete KIND NAME [-n NS] | delete -f FILE
  history [--limit N] [-o table|json]       every change: revision, when, who, what
  rollback REVISION                         restore the state as of REVISION (as a new revision)

Proxies and identity:
  proxy-status [-o table|json|yaml]         every sidecar: identity, versions ACKed, SYNCED / STALE / NACKED
  token create --namespace NS --service-account SA [--ttl 10m] [--uses 1] [-o text|json]
  proxy-config NODE|SERVICE.NS [-o yaml|json]  what the control plane sent one sidecar: routes, policies, endpoints
  explain SOURCE DESTINATION [PATH] [-X METHOD] [-H name=value]
                                            which route, policies and endpoints a request would meet, and
                                            whether it would be allowed (exit 1 when it would be refused)
  check                                     control plane reachable, CA and admin cert valid, proxies synced
  version

Kinds: MeshConfig, HTTPRoute, DestinationPolicy, AuthorizationPolicy, RateLimitPolicy (plural and short names work).
Config: --config, else $MESHCTL_CONFIG, else ${defaultConfigPath({})} (written by mesh-control-plane init).
Exit codes: 0 ok, 1 refused or failed (diff: differences found), 2 bad usage, 3 control plane unreachable.
`;

const io: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

function die(message: string, code: number): never {
  process.stderr.write(`meshctl: ${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      server: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      output: { type: 'string', short: 'o' },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      filename: { type: 'string', short: 'f', multiple: true },
      'dry-run': { type: 'boolean' },
      'service-account': { type: 'string' },
      ttl: { type: 'string' },
      uses: { type: 'string' },
      limit: { type: 'string' },
      validate: { type: 'string' },
      method: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
    },
  });
} catch (error) {
  die(`${(error as Error).message}; see meshctl --help`, EXIT.usage);
}
const { values: v, positionals } = parsed;
const [command, ...args] = positionals;
if (v.help || !command) {
  process.stdout.write(USAGE);
  process.exit(v.help ? EXIT.ok : EXIT.usage);
}
if (command === 'version') {
  process.stdout.write('meshctl 0.1.0\n');
  process.exit(EXIT.ok);
}
const options: Options = { output: v.output, namespace: v.namespace, allNamespaces: v['all-namespaces'], filename: v.filename, dryRun: v['dry-run'], serviceAccount: v['service-account'], ttl: v.ttl, uses: v.uses, limit: v.limit, validate: v.validate };

const config = readMeshctlConfig(v.config ?? defaultConfigPath());
if (!config.ok) die(config.error, EXIT.usage);
const client = new AdminClient({ ...config.value, ...(v.server ? { server: v.server } : {}) });

async function dispatch(): Promise<number> {
  switch (command) {
    case 'apply':
      return commands.apply(client, io, options);
    case 'diff':
      return commands.diff(client, io, options);
    case 'get':
      return commands.get(client, io, options, args[0], args[1]);
    case 'describe':
      return commands.describe(client, io, options, args[0], args[1]);
    case 'delete':
      return commands.delete(client, io, options, args[0], args[1]);
    case 'history':
      return commands.history(client, io, options);
    case 'rollback':
      return commands.rollback(client, io, options, args[0]);
    case 'token':
      return commands.token(client, io, options, args[0]);
    case 'proxy-status':
      return commands.proxyStatus(client, io, options);
    case 'proxy-config':
      return proxyConfigCommand(client, io, options, args[0]);
    case 'explain':
      return explainCommand(client, io, { ...options, method: v.method, header: v.header }, args[0], args[1], args[2]);
    case 'check':
      return commands.check(client, io, options, config.ok ? config.value : (undefined as never));
    default:
      throw new UsageError(`unknown command "${command}"; see meshctl --help`);
  }
}

try {
  const code = await dispatch();
  client.close();
  process.exit(code);
} catch (error) {
  client.close();
  if (error instanceof UsageError) die(error.message, EXIT.usage);
  if (error instanceof AdminApiError) {
    const unreachable = error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED;
    die(unreachable ? `cannot reach the control plane at ${v.server ?? config.value.server}: ${error.message}` : error.message, unreachable ? EXIT.unreachable : EXIT.failed);
  }
  throw error;
}
