import type { FeatureRow } from './feature_row.js';
import type { FeatureView } from './view.js';

// infercache.v1.FeatureStatus numbers.
export const STATUS = { PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, OUTSIDE_MAX_AGE: 4, STALE: 5 } as const;
export type FeatureStatus = (typeof STATUS)[keyof typeof STATUS];

/**
 * The status of one value of a row, judged now from the row's event time:
 * never from whether a key still exists, and the same on an L1 hit as on an
 * L2 hit. A value outside max_age is still returned, marked.
 */
export function statusOf(row: FeatureRow, index: number, maxAgeMs: number, now: number): FeatureStatus {
  const values = row.values;
  if (values === undefined) return STATUS.NOT_FOUND;
  if (now - row.eventTime > maxAgeMs) return STATUS.OUTSIDE_MAX_AGE;
  return values[index] === null ? STATUS.NULL_VALUE : STATUS.PRESENT;
}

/** Whether a stored row is past its view's max_age now. */
export function isStale(row: FeatureRow, maxAgeMs: number, now: number): boolean {
  return row.values !== undefined && now - row.eventTime > maxAgeMs;
}

/**
 * Whether a row past max_age may stand in for a fresh one its view's origin
 * failed to give (STALE): the view serves stale rows on error, and the row
 * is no older than max_age plus the view's stale grace.
 */
export function withinGrace(row: FeatureRow, view: FeatureView, now: number): boolean {
  const origin = view.origin;
  if (origin?.serveStaleOnError !== true || row.values === undefined) return false;
  return now - row.eventTime <= view.maxAgeMs + origin.staleGraceMs;
}
