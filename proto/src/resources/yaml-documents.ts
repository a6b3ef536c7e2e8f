// Reads multi-document YAML into validated resources; every error names file, document, line and field.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { validateResource, formatPath, type MeshResource } from './validate.js';
import { ok, err, type Result } from '../result.js';

// Only the control plane and meshctl read YAML: loaded on first use, so a sidecar, which imports this
// package for the pushed config's validation, never pays for the parser (~1.5 MB).
const requireCjs = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
function loadYaml(): typeof Yaml {
  return (yamlModule ??= requireCjs('yaml') as typeof Yaml);
}

export interface DocumentError {
  file: string;
  // 1-based, in the order the documents appear in the file.
  document: number;
  line: number;
  column: number;
  path: string;
  message: string;
}

export interface ParsedResource {
  resource: MeshResource;
  file: string;
  document: number;
  line: number;
}

export function formatDocumentError(e: DocumentError): string {
  return `${e.file}:${e.line}:${e.column}: document ${e.document}: ${e.path}: ${e.message}`;
}

function locate(doc: Yaml.Document, counter: Yaml.LineCounter, path: Array<string | number>): { line: number; column: number } {
  // The deepest node that exists on the path (a missing field points at its parent).
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0] ?? (depth === 0 ? (doc.contents as { range?: [number, number, number] } | null)?.range?.[0] : undefined);
    if (offset !== undefined) {
      const pos = counter.linePos(offset);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

// All-or-nothing: any error in any document fails the whole file.
export function parseResourceDocuments(text: string, file: string, defaultNamespace = 'default', options: { semantic?: boolean } = {}): Result<ParsedResource[], DocumentError[]> {
  const yaml = loadYaml();
  const counter = new yaml.LineCounter();
  const docs = yaml.parseAllDocuments(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const errors: DocumentError[] = [];
  const parsed: ParsedResource[] = [];
  let index = 0;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    index++;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = counter.linePos(e.pos[0]);
        errors.push({ file, document: index, line: pos.line, column: pos.col, path: '(yaml)', message: e.message.split('\n')[0] ?? e.message });
      }
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // Unresolved or runaway aliases surface only when the document is turned into values.
      const pos = locate(doc, counter, []);
      errors.push({ file, document: index, ...pos, path: '(yaml)', message: (error as Error).message });
      continue;
    }
    // An empty document (a trailing "---", comments only) is not an error.
    if (value === null || value === undefined) continue;
    const where = locate(doc, counter, []);
    const result = validateResource(value, defaultNamespace, options);
    if (!result.ok) {
      for (const issue of result.error) {
        const pos = locate(doc, counter, issue.path);
        errors.push({ file, document: index, ...pos, path: formatPath(issue.path), message: issue.message });
      }
      continue;
    }
    parsed.push({ resource: result.value, file, document: index, line: where.line });
  }
  return errors.length > 0 ? err(errors) : ok(parsed);
}
