// meshctl: the operator's CLI for the control plane's admin API.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { readMeshctlConfig, defaultConfigPath } from '../cli/client-config.js';
import { AdminClient, AdminApiError } from '../cli/admin-client.js';
import { commands, EXIT, UsageError, type Io, type Options } from '../cli/commands.js';
import { tracesCommand, defaultHttpServer, DEFAULT_HTTP_PORT } from '../cli/commands-traces.js';
import { explainCommand, proxyConfigCommand } from '../cli/commands-inspect.js';
import { tapCommands, TAP_USAGE, type TapCommandOptions } from '../cli/commands-tap.js';
import { injectCommand } from '../cli/commands-inject.js';

const USAGE = `meshctl: manage a tsmesh mesh.

Usage: meshctl [--config FILE] [--server HOST:PORT] [--http-server HOST:PORT] COMMAND [options]

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
  inject -f FILE|-                          add the tsmesh sidecar to Pods and workloads (static injection);
                                            other documents pass through

Observability (the control plane's HTTP port: --http-server, default the server's host, port ${DEFAULT_HTTP_PORT}):
  traces [--limit N] [-o table|json]        recent traces: id, root span, services, duration, spans, error
  traces TRACE_ID [-o table|json]           one trace as a waterfall (also at http://HTTP-SERVER/traces)

${TAP_USAGE}
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
      'http-server': { type: 'string' },
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
      path: { type: 'string' },
      headers: { type: 'boolean' },
      'by-route': { type: 'boolean' },
      once: { type: 'boolean' },
      'stream-server': { type: 'string' },
      window: { type: 'string' },
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

// The HTTP port needs no admin credentials, only where it is.
if (command === 'inject') {
  try {
    process.exit(await injectCommand(io, { filename: v.filename }));
  } catch (error) {
    if (error instanceof UsageError) die(error.message, EXIT.usage);
    throw error;
  }
}
if (command === 'traces') {
  let httpServer = v['http-server'];
  if (!httpServer) {
    const fromConfig = v.server ? undefined : readMeshctlConfig(v.config ?? defaultConfigPath());
    if (fromConfig && !fromConfig.ok) die(`${fromConfig.error} (or pass --http-server HOST:PORT)`, EXIT.usage);
    httpServer = defaultHttpServer(v.server ?? (fromConfig?.ok ? fromConfig.value.server : ''));
  }
  try {
    process.exit(await tracesCommand(io, { httpServer, limit: v.limit, output: v.output }, args[0]));
  } catch (error) {
    if (error instanceof UsageError) die(error.message, EXIT.usage);
    throw error;
  }
}

const config = readMeshctlConfig(v.config ?? defaultConfigPath());
if (!config.ok) die(config.error, EXIT.usage);
if (command === 'tap' || command === 'top' || command === 'stat') {
  const meshConfig = { ...config.value, ...(v.server ? { server: v.server } : {}) };
  const tapOptions: TapCommandOptions = { namespace: v.namespace, output: v.output, path: v.path, method: v.method, headers: v.headers, byRoute: v['by-route'], once: v.once, streamServer: v['stream-server'], window: v.window };
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    const code =
      command === 'stat'
        ? await tapCommands.stat(meshConfig, io, tapOptions, args[0])
        : command === 'top'
          ? await tapCommands.top(meshConfig, io, tapOptions, args[0], stop.signal, process.stdout.isTTY === true)
          : await tapCommands.tap(meshConfig, io, tapOptions, args[0], stop.signal);
    process.exit(code);
  } catch (error) {
    if (error instanceof UsageError) die(error.message, EXIT.usage);
    throw error;
  }
}
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
