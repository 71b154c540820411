/**
 * The value of one sample in a Prometheus text exposition, e.g.
 * metricValue(body, 'infercache_rows_total', { model: 'iris', source: 'l1' }).
 * Labels not given are not checked; undefined when no sample matches.
 */
export function metricValue(
  body: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      have.set(pair[1] as string, pair[2] as string);
    }
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[4]);
  }
  return undefined;
}

/** The sum of every sample of `name` whose labels include `labels` (0 when none does). */
export function metricSum(body: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith('#')) continue;
    const value = metricValue(line, name, labels);
    if (value !== undefined) sum += value;
  }
  return sum;
}
