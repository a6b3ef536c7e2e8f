// meshctl inject: static sidecar injection of Kubernetes YAML; workloads are injected, every other document passes through.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { EXIT, UsageError, type Io } from './commands.js';
import { injectObject } from '../k8s/inject.js';
import { DEFAULT_INJECT_OPTIONS, type InjectOptions } from '../k8s/sidecar-spec.js';

export interface InjectCommandOptions {
  filename?: string[] | undefined;
  // Overrides of the injected settings, e.g. for a locally built image.
  inject?: Partial<InjectOptions>;
}

export async function injectCommand(io: Io, options: InjectCommandOptions, stdin: () => string = () => readFileSync(0, 'utf8')): Promise<number> {
  if (!options.filename?.length) throw new UsageError('inject needs -f FILE or -f - (stdin)');
  const inject: InjectOptions = { ...DEFAULT_INJECT_OPTIONS, ...options.inject };
  const out: string[] = [];
  const errors: string[] = [];
  for (const file of options.filename) {
    let text: string;
    try {
      text = file === '-' ? stdin() : readFileSync(file, 'utf8');
    } catch (error) {
      errors.push(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      continue;
    }
    const source = file === '-' ? '<stdin>' : file;
    YAML.parseAllDocuments(text).forEach((doc, index) => {
      const where = `${source}: document ${index + 1}`;
      if (doc.errors.length > 0) {
        errors.push(`${where}: ${doc.errors[0]?.message ?? 'YAML error'}`);
        return;
      }
      // The separator is written between documents below, not by each document.
      doc.directives.docStart = null;
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) return;
      if (typeof value !== 'object' || Array.isArray(value)) {
        out.push(doc.toString());
        return;
      }
      const result = injectObject(value as Record<string, unknown>, inject);
      if (!result.ok) errors.push(`${where}: ${result.error}`);
      // Untouched documents keep their comments and layout.
      else out.push(result.value.injected ? YAML.stringify(result.value.object, { lineWidth: 0 }) : doc.toString());
    });
  }
  if (errors.length > 0) {
    io.err(`${errors.join('\n')}\nnothing was written\n`);
    return EXIT.failed;
  }
  io.out(out.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n'));
  return EXIT.ok;
}
