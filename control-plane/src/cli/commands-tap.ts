// meshctl tap, stat and top: live requests and golden metrics from the sidecars, through the control plane's stream server.
import { isValidName } from '@tsmesh/proto';
import type { MeshctlConfig } from './client-config.js';
import { EXIT, UsageError, type Io } from './commands.js';
import { formatTable } from './table.js';
import { fetchStats, streamServerAddress, streamTap, StreamApiError, type TapQuery } from '../tap/client.js';
import type { TapEvent, TapStreamMessage } from '../tap/protocol.js';
import type { StatRow } from '../tap/stats.js';

export interface TapCommandOptions {
  namespace?: string;
  output?: string;
  path?: string;
  method?: string;
  headers?: boolean;
  byRoute?: boolean;
  once?: boolean;
  // HOST:PORT of the stream server; default: the config's server host, port 15015.
  streamServer?: string;
  // stat: the interval between the two samples the request rate comes from. top: the refresh interval.
  window?: string;
}

export const TAP_USAGE = `Traffic (through the control plane's stream server, --stream-server HOST:PORT, default: --server host, port 15015):
  tap SERVICE [-n NS] [--path PREFIX] [--method M] [--headers] [-o text|json]
                                            live requests to and from SERVICE until Ctrl-C; headers only
                                            with --headers (credentials redacted), bodies never
  stat [SERVICE] [-n NS] [--by-route] [-o table|json]
                                            success rate, requests/s, p50/p95/p99 latency per service
                                            (or per route, as the callers see it)
  top SERVICE [-n NS] [--once]              the busiest paths of SERVICE, refreshed every 2 s
`;

function fmt(options: TapCommandOptions, allowed: string[]): string {
  const chosen = options.output ?? allowed[0]!;
  if (!allowed.includes(chosen)) throw new UsageError(`-o ${chosen}: choose one of ${allowed.join(', ')}`);
  return chosen;
}

function target(service: string | undefined, options: TapCommandOptions, command: string): TapQuery {
  if (!service) throw new UsageError(`${command} needs a SERVICE`);
  const namespace = options.namespace ?? 'default';
  for (const [what, value] of [['service', service], ['--namespace', namespace]] as const) {
    if (!isValidName(value)) throw new UsageError(`${what}: "${value}" is not a DNS-1123 label`);
  }
  return { service, namespace, headers: options.headers ?? false, ...(options.path ? { path: options.path } : {}), ...(options.method ? { method: options.method.toUpperCase() } : {}) };
}

function failure(io: Io, error: unknown): number {
  if (!(error instanceof StreamApiError)) throw error;
  io.err(`meshctl: ${error.message}\n`);
  return error.kind === 'unreachable' ? EXIT.unreachable : EXIT.failed;
}

// Progress and loss go to stderr, so stdout stays one line per request.
function notice(io: Io, message: TapStreamMessage): void {
  if (message.type === 'tapping') io.err(`tapping ${message.nodeId} (${message.service}.${message.namespace})\n`);
  else if (message.type === 'dropped') io.err(`${message.count} event(s) dropped at ${message.nodeId} (tap is rate-bound so it never slows traffic)\n`);
}

export function formatTapLine(e: TapEvent): string {
  const dir = e.direction === 'inbound' ? 'in ' : 'out';
  const refusal = e.refusal ? ` refusal=${e.refusal}` : '';
  const headers = e.headers ? ` headers=${JSON.stringify(e.headers)}` : '';
  return `${e.time} ${dir} ${e.method} ${e.path} ${e.status} ${formatMs(e.latencyMs)} ${e.source} -> ${e.destination} trace=${e.traceId || '-'}${refusal}${headers}`;
}

function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

const percent = (rate: number | null): string => (rate === null ? '-' : `${(rate * 100).toFixed(2)}%`);

function nearestRank(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface PathStats {
  method: string;
  path: string;
  count: number;
  successes: number;
  latencies: number[];
}

// Enough latencies per path for stable percentiles without growing for as long as top runs.
const MAX_SAMPLES_PER_PATH = 2_000;

function topTable(paths: Map<string, PathStats>, limit = 20): string {
  const rows = [...paths.values()].sort((a, b) => b.count - a.count).slice(0, limit).map((p) => {
    const sorted = [...p.latencies].sort((a, b) => a - b);
    return [p.method, p.path, String(p.count), percent(p.successes / p.count), formatMs(nearestRank(sorted, 0.5)), formatMs(nearestRank(sorted, 0.95)), formatMs(nearestRank(sorted, 0.99))];
  });
  return formatTable(['METHOD', 'PATH', 'COUNT', 'SUCCESS', 'P50', 'P95', 'P99'], rows);
}

export const tapCommands = {
  // Runs until `stop` aborts (Ctrl-C), or the stream server ends the tap.
  async tap(config: MeshctlConfig, io: Io, options: TapCommandOptions, service: string | undefined, stop: AbortSignal): Promise<number> {
    const query = target(service, options, 'tap');
    const output = fmt(options, ['text', 'json']);
    try {
      await streamTap(config, streamServerAddress(config, options.streamServer), query, stop, (message) => {
        if (message.type !== 'event') return notice(io, message);
        io.out(`${output === 'json' ? JSON.stringify(message.event) : formatTapLine(message.event)}\n`);
      });
      return EXIT.ok;
    } catch (error) {
      return failure(io, error);
    }
  },

  async stat(config: MeshctlConfig, io: Io, options: TapCommandOptions, service?: string): Promise<number> {
    const output = fmt(options, ['table', 'json']);
    if (service !== undefined && !isValidName(service)) throw new UsageError(`service: "${service}" is not a DNS-1123 label`);
    try {
      const report = await fetchStats(config, streamServerAddress(config, options.streamServer), { ...(service ? { service } : {}), ...(options.namespace ? { namespace: options.namespace } : {}), byRoute: options.byRoute ?? false, window: options.window ?? '1s' });
      if (output === 'json') {
        io.out(`${JSON.stringify(report, null, 2)}\n`);
        return EXIT.ok;
      }
      const row = (r: StatRow): string[] => [r.service, ...(options.byRoute ? [r.route || '[default]'] : []), percent(r.successRate), r.rps.toFixed(1), formatMs(r.p50Ms), formatMs(r.p95Ms), formatMs(r.p99Ms), String(r.requests)];
      io.out(formatTable(['SERVICE', ...(options.byRoute ? ['ROUTE'] : []), 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'REQUESTS'], report.rows.map(row)));
      if (report.rows.length === 0) io.err(`no traffic recorded by the ${report.sidecars} sidecar(s) that answered\n`);
      return EXIT.ok;
    } catch (error) {
      return failure(io, error);
    }
  },

  // Built on tap, as paths are too many to be metric labels: a sample of live traffic (bounded by tap's rate), counted at the service's own sidecars.
  async top(config: MeshctlConfig, io: Io, options: TapCommandOptions, service: string | undefined, stop: AbortSignal, interactive: boolean): Promise<number> {
    const query = target(service, options, 'top');
    const paths = new Map<string, PathStats>();
    const refreshMs = 2_000;
    const local = new AbortController();
    const end = (): void => local.abort();
    stop.addEventListener('abort', end);
    const once = options.once === true || !interactive;
    const timer = setInterval(() => {
      if (once) return end();
      io.out(`\x1b[2J\x1b[H${query.service}.${query.namespace}, ${new Date().toISOString()}\n${topTable(paths)}`);
    }, refreshMs);
    try {
      await streamTap(config, streamServerAddress(config, options.streamServer), query, local.signal, (message) => {
        if (message.type !== 'event') return notice(io, message);
        const e = message.event;
        if (e.direction !== 'inbound') return;
        const key = `${e.method} ${e.path}`;
        let p = paths.get(key);
        if (p === undefined) paths.set(key, (p = { method: e.method, path: e.path, count: 0, successes: 0, latencies: [] }));
        p.count++;
        if (e.status > 0 && e.status < 500) p.successes++;
        if (p.latencies.length >= MAX_SAMPLES_PER_PATH) p.latencies.shift();
        p.latencies.push(e.latencyMs);
      });
      if (once) io.out(topTable(paths));
      return EXIT.ok;
    } catch (error) {
      return failure(io, error);
    } finally {
      clearInterval(timer);
      stop.removeEventListener('abort', end);
    }
  },
};
