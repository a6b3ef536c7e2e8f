// meshctl traces: recent traces from the control plane's embedded trace store, and one trace as a text waterfall.
import { EXIT, UsageError, type Io } from './commands.js';
import { formatTable, age } from './table.js';
import { formatMs, renderTextWaterfall } from '../observability/waterfall.js';
import type { TraceJson, TraceSummary } from '../observability/trace-store.js';

export const DEFAULT_HTTP_PORT = 15014;

export interface TracesOptions {
  // HOST:PORT of the control plane's HTTP port.
  httpServer: string;
  limit?: string | undefined;
  output?: string | undefined;
}

// The gRPC server's host with the default HTTP port: both ports live on one control plane.
export function defaultHttpServer(grpcServer: string): string {
  const colon = grpcServer.lastIndexOf(':');
  const host = colon > 0 ? grpcServer.slice(0, colon) : grpcServer;
  return `${host}:${DEFAULT_HTTP_PORT}`;
}

class Unreachable extends Error {}

async function getJson(base: string, path: string, fetchImpl: typeof fetch): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetchImpl(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Unreachable(cause?.code ?? cause?.message ?? (error as Error).message);
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: { error: text.trim() || `HTTP ${response.status}` } };
  }
}

function errorOf(body: unknown, status: number): string {
  const message = (body as { error?: unknown } | null)?.error;
  return typeof message === 'string' ? message : `HTTP ${status}`;
}

export async function tracesCommand(io: Io, options: TracesOptions, traceId?: string, fetchImpl: typeof fetch = fetch): Promise<number> {
  const output = options.output ?? 'table';
  if (!['table', 'json'].includes(output)) throw new UsageError(`-o ${output}: choose one of table, json`);
  const limit = Number(options.limit ?? '20');
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: "${options.limit}" must be a whole number >= 1`);
  if (traceId !== undefined && !/^[0-9a-fA-F]{32}$/.test(traceId)) throw new UsageError(`"${traceId}" is not a trace id (32 hex digits); see meshctl traces`);
  const base = `http://${options.httpServer}`;
  try {
    if (traceId !== undefined) {
      const { status, body } = await getJson(base, `/api/traces/${traceId.toLowerCase()}`, fetchImpl);
      if (status !== 200) {
        io.err(`${errorOf(body, status)}\n`);
        return EXIT.failed;
      }
      const trace = body as TraceJson;
      io.out(output === 'json' ? `${JSON.stringify(trace, null, 2)}\n` : renderTextWaterfall(trace));
      return EXIT.ok;
    }
    const { status, body } = await getJson(base, `/api/traces?limit=${limit}`, fetchImpl);
    const traces = (body as { traces?: unknown } | null)?.traces;
    if (status !== 200 || !Array.isArray(traces)) {
      io.err(`${errorOf(body, status)}\n`);
      return EXIT.failed;
    }
    const list = traces as TraceSummary[];
    if (output === 'json') io.out(`${JSON.stringify(list, null, 2)}\n`);
    else if (list.length === 0) io.err('no traces yet (sidecars export to the control plane with --otlp-endpoint http://<http-server>/v1/traces)\n');
    else {
      const rows = list.map((t) => [t.traceId, `${t.rootService}: ${t.rootName}`, t.services.join(','), formatMs(t.durationMs), String(t.spanCount), t.error ? 'error' : '', age(new Date(t.startTimeUnixMs).toISOString())]);
      io.out(formatTable(['TRACE ID', 'ROOT', 'SERVICES', 'DURATION', 'SPANS', 'ERROR', 'AGE'], rows));
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    io.err(`meshctl: cannot reach the control plane's HTTP port at ${options.httpServer}: ${error.message} (set --http-server HOST:PORT)\n`);
    return EXIT.unreachable;
  }
}
