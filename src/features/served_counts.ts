import type { FeatureMetrics } from '../ops/metrics.js';
import type { FeatureSource, ViewResult } from './feature_result.js';
import type { FeatureRow } from './feature_row.js';
import { STATUS } from './freshness.js';

const SOURCES: readonly FeatureSource[] = ['l1', 'l2', 'origin', 'none'];
const SOURCE_INDEX: Record<FeatureSource, number> = { l1: 0, l2: 1, origin: 2, none: 3 };
// infercache_feature_values_total's status label, by FeatureStatus number - 1.
const STATUS_NAMES = ['present', 'null_value', 'not_found', 'outside_max_age', 'stale'];
const STATUSES = STATUS_NAMES.length;

/**
 * Counts what one view's answer served: its batch size, its rows by the
 * tier they came from, their ages, and its values by tier and status (the
 * status of each value judged at `now`, as the answer judges it).
 */
export function countServed(
  m: FeatureMetrics,
  { view, rows, sources, stale }: ViewResult,
  now: number,
): void {
  m.batchEntities.labels(view.name).observe(rows.length);
  const bySource = new Map<FeatureSource, number>();
  for (const s of sources) bySource.set(s, (bySource.get(s) ?? 0) + 1);
  for (const [s, n] of bySource) m.rows.labels(view.name, s).inc(n);
  const age = m.age.labels(view.name);
  // Values by the tier their row came from and their status, in one slot
  // per pair (SOURCES × STATUS_NAMES: 4 × 5, so at most 20 series a view).
  // Counted a row at a time: a row's status is one for all its values but
  // the nulls (freshness.ts statusOf), and this runs on every call.
  const counts = new Float64Array(SOURCES.length * STATUSES);
  const add = (slot: number, n: number) => {
    counts[slot] = (counts[slot] as number) + n;
  };
  const width = view.features.length;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as FeatureRow;
    const at = SOURCE_INDEX[sources[r] as FeatureSource] * STATUSES - 1;
    const values = row.values;
    if (values === undefined) {
      add(at + STATUS.NOT_FOUND, width);
      continue;
    }
    age.observe(Math.max(0, (now - row.eventTime) / 1000));
    if (stale?.has(r)) {
      add(at + STATUS.STALE, width);
      continue;
    }
    if (now - row.eventTime > view.maxAgeMs) {
      add(at + STATUS.OUTSIDE_MAX_AGE, width);
      continue;
    }
    let rowNulls = 0;
    for (let f = 0; f < width; f++) if (values[f] === null) rowNulls++;
    add(at + STATUS.NULL_VALUE, rowNulls);
    add(at + STATUS.PRESENT, width - rowNulls);
  }
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (n === 0) continue;
    const source = SOURCES[Math.floor(i / STATUSES)] as FeatureSource;
    m.values.labels(view.name, source, STATUS_NAMES[i % STATUSES] as string).inc(n);
  }
}
