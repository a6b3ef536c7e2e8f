// Applies the interception rules in the current network namespace with iptables-save / iptables-restore.
import { spawn } from 'node:child_process';
import { ok, err, type Result } from '@tsmesh/proto';
import { parseNatSave, emptyNatState, type NatState } from './nat-state.js';
import { installScript, uninstallScript, type InterceptOptions } from './rules.js';
import { parseIptablesArgs, IPTABLES_USAGE } from './flags.js';

export interface IptablesTools {
  // Executable names or paths; looked up on PATH, which for root on Debian includes /usr/sbin.
  save: string;
  restore: string;
  timeoutMs: number;
}

export const DEFAULT_TOOLS: IptablesTools = { save: 'iptables-save', restore: 'iptables-restore', timeoutMs: 15_000 };

function run(command: string, args: string[], input: string | undefined, timeoutMs: number): Promise<Result<string, string>> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // The process may exit before reading its input; the exit status says what went wrong.
    child.stdin.on('error', () => undefined);
    child.on('error', (error: NodeJS.ErrnoException) => {
      resolve(err(error.code === 'ENOENT' ? `${command} not found: install the iptables package (apt-get install iptables)` : `${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(ok(stdout));
      const why = signal ? `killed by ${signal}${signal === 'SIGTERM' ? ` after ${timeoutMs} ms` : ''}` : `exited with ${code}`;
      const hint = process.getuid?.() !== 0 ? ' (not running as root: the nat table needs root or CAP_NET_ADMIN)' : '';
      resolve(err(`${command} ${args.join(' ')} ${why}${hint}: ${stderr.trim() || 'no message'}`));
    });
    child.stdin.end(input ?? '');
  });
}

export async function readNatState(tools: IptablesTools = DEFAULT_TOOLS): Promise<Result<NatState, string>> {
  const saved = await run(tools.save, ['-t', 'nat'], undefined, tools.timeoutMs);
  return saved.ok ? parseNatSave(saved.value) : saved;
}

export type ApplyOutcome = 'installed' | 'removed' | 'nothing-to-remove';

export async function installInterception(options: InterceptOptions, tools: IptablesTools = DEFAULT_TOOLS): Promise<Result<ApplyOutcome, string>> {
  const current = await readNatState(tools);
  if (!current.ok) return current;
  const applied = await run(tools.restore, ['--noflush'], installScript(options, current.value), tools.timeoutMs);
  return applied.ok ? ok('installed') : applied;
}

export async function uninstallInterception(tools: IptablesTools = DEFAULT_TOOLS): Promise<Result<ApplyOutcome, string>> {
  const current = await readNatState(tools);
  if (!current.ok) return current;
  const script = uninstallScript(current.value);
  if (script === undefined) return ok('nothing-to-remove');
  const applied = await run(tools.restore, ['--noflush'], script, tools.timeoutMs);
  return applied.ok ? ok('removed') : applied;
}

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

// `mesh-sidecar iptables ...`; resolves to the process exit code (2 for usage errors, 1 for failures).
export async function runIptablesCommand(argv: string[], io: CommandIo, tools: IptablesTools = DEFAULT_TOOLS): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    io.stdout(IPTABLES_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const parsed = parseIptablesArgs(argv);
  if (!parsed.ok) {
    io.stderr(`mesh-sidecar: ${parsed.error}\n`);
    return 2;
  }
  const { action, options } = parsed.value;
  if (action === 'print') {
    io.stdout(installScript(options, emptyNatState()));
    return 0;
  }
  const result = action === 'install' ? await installInterception(options, tools) : await uninstallInterception(tools);
  if (!result.ok) {
    io.stderr(`mesh-sidecar: iptables ${action} failed: ${result.error}\n`);
    return 1;
  }
  io.stdout(`${JSON.stringify({ event: 'iptables', action, result: result.value })}\n`);
  return 0;
}
