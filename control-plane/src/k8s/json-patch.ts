// The RFC 6902 JSON Patch that turns one JSON value into another: objects field by field, arrays whole.
export type JsonPatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

const escape = (token: string): string => token.replace(/~/g, '~0').replace(/\//g, '~1');

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => same(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a).filter((k) => a[k] !== undefined);
    return keys.length === Object.keys(b).filter((k) => b[k] !== undefined).length && keys.every((k) => same(a[k], b[k]));
  }
  return false;
}

// Arrays are replaced whole: index-wise patches against a pod the API server may have reordered are a trap.
export function diffJson(before: unknown, after: unknown, path = ''): JsonPatchOperation[] {
  if (same(before, after)) return [];
  if (!isObject(before) || !isObject(after)) return [{ op: 'replace', path, value: after }];
  const ops: JsonPatchOperation[] = [];
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && after[key] === undefined) ops.push({ op: 'remove', path: `${path}/${escape(key)}` });
  }
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const child = `${path}/${escape(key)}`;
    if (before[key] === undefined) ops.push({ op: 'add', path: child, value });
    else ops.push(...diffJson(before[key], value, child));
  }
  return ops;
}
