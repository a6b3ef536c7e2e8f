// Child processes for the launcher and the end-to-end tests: spawn, wait for a JSON line, stop cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  // Resolves with the first JSON line on stdout that matches.
  waitForEvent(predicate: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  output(): string;
}

export function spawnManaged(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; logDir?: string; cwd?: string } = {}): ManagedProcess {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log: WriteStream | undefined;
  if (options.logDir) {
    mkdirSync(options.logDir, { recursive: true });
    log = createWriteStream(join(options.logDir, `${name}.log`), { flags: 'a' });
  }
  // The last lines are kept for error messages when a process dies early.
  const tail: string[] = [];
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ predicate: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }>();
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    log?.write(`${line}\n`);
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    remember(line);
    if (!line.startsWith('{')) return;
    try {
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      for (const waiter of waiters) if (waiter.predicate(event)) waiter.resolve(event);
    } catch {
      // Not every line is an event.
    }
  });
  createInterface({ input: child.stderr }).on('line', remember);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
    log?.end();
    resolve(code ?? (signal ? 128 : null));
  }));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const output = (): string => tail.join('\n');
  return {
    name,
    child,
    exited,
    output,
    waitForEvent(predicate, timeoutMs = 20_000) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (event: Record<string, unknown>) => {
            cleanup();
            resolve(event);
          },
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} did not report ready within ${timeoutMs} ms; last output:\n${output()}`));
        }, timeoutMs);
        const onExit = (code: number | null): void => {
          cleanup();
          reject(new Error(`${name} exited with ${code} before it was ready; last output:\n${output()}`));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          child.off('exit', onExit);
        };
        waiters.add(waiter);
        child.once('exit', onExit);
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

// Whether host:port can be listened on now (nothing else holds it).
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
