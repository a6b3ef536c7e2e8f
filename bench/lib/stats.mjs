// Small statistics and formatting helpers.
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function min(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? Math.min(...s) : NaN;
}

export function max(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? Math.max(...s) : NaN;
}

export function spread(xs) {
  return { median: median(xs), min: min(xs), max: max(xs), runs: xs };
}

export function fmt(x, digits = 0) {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// Microseconds as milliseconds with three decimals.
export function ms(us) {
  return Number.isFinite(us) ? (us / 1000).toFixed(3) : 'n/a';
}
