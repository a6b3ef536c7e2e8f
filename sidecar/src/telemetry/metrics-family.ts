// Small Prometheus metric families with one to three labels: pre-rendered label strings, a capped number of label sets.

// Exposition format 0.0.4: backslash, double quote and newline are escaped in label values.
export function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Series {
  labels: string;
  value: number;
}

const OVERFLOW = 'other';

// Label values are looked up through nested maps, so a repeated label set costs a Map.get per label and no string building.
abstract class Family {
  // One level per label: a family always uses the same number of labels, so each level holds one kind.
  private readonly byFirst = new Map<string, Series | Map<string, Series> | Map<string, Map<string, Series>>>();
  private readonly order: Series[] = [];
  private overflow: Series | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly maxLabelSets: number,
  ) {}

  protected abstract readonly type: 'counter' | 'gauge';

  protected series1(a: string): Series {
    const found = this.byFirst.get(a) as Series | undefined;
    if (found !== undefined) return found;
    const created = this.create([a]);
    if (created !== this.overflow) this.byFirst.set(a, created);
    return created;
  }

  protected series2(a: string, b: string): Series {
    let inner = this.byFirst.get(a) as Map<string, Series> | undefined;
    const found = inner?.get(b);
    if (found !== undefined) return found;
    const created = this.create([a, b]);
    if (created !== this.overflow) {
      if (inner === undefined) this.byFirst.set(a, (inner = new Map<string, Series>()));
      inner.set(b, created);
    }
    return created;
  }

  protected series3(a: string, b: string, c: string): Series {
    let inner = this.byFirst.get(a) as Map<string, Map<string, Series>> | undefined;
    let innermost = inner?.get(b);
    const found = innermost?.get(c);
    if (found !== undefined) return found;
    const created = this.create([a, b, c]);
    if (created !== this.overflow) {
      if (inner === undefined) this.byFirst.set(a, (inner = new Map<string, Map<string, Series>>()));
      if (innermost === undefined) inner.set(b, (innermost = new Map<string, Series>()));
      innermost.set(c, created);
    }
    return created;
  }

  private create(values: string[]): Series {
    if (this.order.length >= this.maxLabelSets) {
      return (this.overflow ??= { labels: this.labelNames.map((n) => `${n}="${OVERFLOW}"`).join(','), value: 0 });
    }
    const series = { labels: this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`).join(','), value: 0 };
    this.order.push(series);
    return series;
  }

  // How many distinct label sets are held (the overflow series not included).
  get size(): number {
    return this.order.length;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const s of this.order) out.push(`${this.name}{${s.labels}} ${formatNumber(s.value)}`);
    if (this.overflow) out.push(`${this.name}{${this.overflow.labels}} ${formatNumber(this.overflow.value)}`);
  }
}

export class LabeledCounter extends Family {
  protected readonly type = 'counter';

  inc1(a: string, by = 1): void {
    this.series1(a).value += by;
  }

  inc2(a: string, b: string, by = 1): void {
    this.series2(a, b).value += by;
  }

  inc3(a: string, b: string, c: string, by = 1): void {
    this.series3(a, b, c).value += by;
  }
}

export class LabeledGauge extends Family {
  protected readonly type = 'gauge';

  set1(a: string, value: number): void {
    this.series1(a).value = value;
  }

  set2(a: string, b: string, value: number): void {
    this.series2(a, b).value = value;
  }
}
