// Summaries of a V8 heap snapshot (by constructor) and of a --heap-prof sampling profile (by package).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

// Self size per node type and name ("object Foo", "code", "string"), largest first.
export function snapshotByConstructor(file, limit = 20) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const nodes = snap.nodes;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    const size = nodes[i + iSize];
    total += size;
    // Objects group by constructor; strings, code and the like by type, since their names are their contents.
    const key = type === 'object' || type === 'native' || type === 'hidden' || type === 'array' ? `${type} ${snap.strings[nodes[i + iName]]}` : type;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += size;
    groups.set(key, g);
  }
  const top = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, limit).map(([name, g]) => ({ name, count: g.count, bytes: g.bytes }));
  return { totalBytes: total, nodeCount: nodes.length / width, top };
}

// Which package's code allocated what was still live when the profile was written (node --heap-prof).
export function heapProfileByPackage(file, repoRoot, limit = 20) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byPackage = new Map();
  let total = 0;
  const walk = (node, owner) => {
    const url = node.callFrame.url.replace(/^file:\/\//, '');
    let here = owner;
    if (url.includes('/node_modules/')) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      here = m ? m[1] : url;
    } else if (url.startsWith('/')) {
      here = relative(repoRoot, url).split('/').slice(0, 2).join('/');
    } else if (url.startsWith('node:')) {
      // Node's own modules inherit the caller that made them allocate, unless nothing called them.
      here = owner ?? 'node internals';
    }
    const self = (node.selfSize ?? 0);
    if (self > 0) {
      const key = here ?? '(no JavaScript frame)';
      byPackage.set(key, (byPackage.get(key) ?? 0) + self);
      total += self;
    }
    for (const childNode of node.children ?? []) walk(childNode, here);
  };
  walk(profile.head, undefined);
  const top = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([name, bytes]) => ({ name, bytes }));
  return { totalBytes: total, top };
}

// The functions that allocated the most in a sampling heap profile, with where they are.
export function heapProfileByFunction(file, repoRoot, limit = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byFunction = new Map();
  let total = 0;
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    let where = url.replace(/^file:\/\//, '');
    if (where.startsWith('/')) where = relative(repoRoot, where);
    const key = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
    if (node.selfSize > 0) {
      byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const c of node.children ?? []) walk(c);
  };
  walk(profile.head);
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([fn, bytes]) => ({ function: fn, bytes, percent: (100 * bytes) / total }));
  return { totalBytes: total, top };
}
