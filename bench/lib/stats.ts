export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  samples: number;
}

/** Nearest-rank percentiles; a copy is sorted, so callers can keep appending to theirs. */
export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (q: number) =>
    sorted.length === 0 ? Number.NaN : (sorted[Math.ceil(q * sorted.length) - 1] ?? Number.NaN);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
    samples: sorted.length,
  };
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
  const mid = sorted.length >>> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
