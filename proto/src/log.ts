// A small structured logger (JSON lines on stderr) so that library code never calls console.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

function threshold(): number {
  const level = (process.env['MESH_LOG_LEVEL'] ?? 'info') as LogLevel;
  return ORDER[level] ?? ORDER.info;
}

export function createLogger(component: string, sink: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const min = threshold();
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const record = { time: new Date().toISOString(), level, component, msg: message, ...fields };
    // Logging must never throw into the caller (a field that cannot be serialised is dropped).
    try {
      sink(`${JSON.stringify(record)}\n`);
    } catch {
      sink(`${JSON.stringify({ time: record.time, level, component, msg: message })}\n`);
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (sub) => createLogger(`${component}.${sub}`, sink),
  };
}
