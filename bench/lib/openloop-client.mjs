// bench/lib/openloop.mjs as a child process, and its one result line: the fixed-rate load of run, soak, pause and ab.
import { fileURLToPath } from 'node:url';
import { startProcess } from './procs.mjs';

const OPENLOOP = fileURLToPath(new URL('./openloop.mjs', import.meta.url));

// rate in requests per second, duration and warmup in seconds.
export function startOpenLoop(name, { port, hostHeader, rate, duration, warmup = 0, connections }) {
  return startProcess(name, process.execPath, [OPENLOOP, '--port', String(port), '--host-header', hostHeader, '--rate', String(rate), '--duration', String(duration), '--warmup', String(warmup), '--connections', String(connections)]);
}

// The client's figures once it has exited; `what` names it in the error when it failed or printed none.
export async function openLoopResult(proc, what) {
  const code = await proc.exited;
  const line = proc.output().split('\n').find((l) => l.startsWith('{"rate"'));
  if (code !== 0 || !line) throw new Error(`${what} failed (${code}):\n${proc.output()}`);
  return JSON.parse(line);
}
