// A strict parser of Prometheus text exposition (0.0.4) for tests: a malformed line fails the test instead of parsing to nothing.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParseOptions {
  // Metric types a `# TYPE` line may name; any other type is an error.
  types?: readonly string[];
  // Whether a sample value may be NaN.
  allowNaN?: boolean;
}

export function parsePrometheus(text: string, options: ParseOptions = {}): { samples: Sample[]; types: Map<string, string> } {
  const allowed = new Set(options.types ?? ['counter', 'gauge', 'histogram']);
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (type && allowed.has(type[2]!)) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (let l = labelRe.exec(body); l; l = labelRe.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
      consumed = labelRe.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`bad labels in: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value) && !(options.allowNaN === true && m[3] === 'NaN')) throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}
