// Reads `-f FILE|DIR|-` into validated resources; a bad document anywhere means nothing is applied.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseResourceDocuments, formatDocumentError, ok, err, type ParsedResource, type Result } from '@tsmesh/proto';

function manifestFiles(path: string): Result<string[], string> {
  try {
    if (!statSync(path).isDirectory()) return ok([path]);
    const files = readdirSync(path)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(path, f));
    return files.length > 0 ? ok(files) : err(`${path}: no .yaml, .yml or .json files in this directory`);
  } catch (error) {
    return err(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
  }
}

export function readManifests(paths: string[], defaultNamespace: string, options: { semantic?: boolean } = {}, stdin: () => string = () => readFileSync(0, 'utf8')): Result<ParsedResource[], string[]> {
  const resources: ParsedResource[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    const files = path === '-' ? ok(['-']) : manifestFiles(path);
    if (!files.ok) {
      errors.push(files.error);
      continue;
    }
    for (const file of files.value) {
      const text = file === '-' ? stdin() : readFileSync(file, 'utf8');
      const parsed = parseResourceDocuments(text, file === '-' ? '<stdin>' : file, defaultNamespace, options);
      if (parsed.ok) resources.push(...parsed.value);
      else errors.push(...parsed.error.map(formatDocumentError));
    }
  }
  if (errors.length === 0 && resources.length === 0) errors.push(`no resources in ${paths.join(', ')}`);
  return errors.length > 0 ? err(errors) : ok(resources);
}
