import type { FeatureRef } from './feature_refs.js';
import type { FeatureRow } from './feature_row.js';
import type { FeatureView } from './view.js';

/** The tier a row of a GetFeatures answer came from (none: found nowhere). */
export type FeatureSource = 'l1' | 'l2' | 'origin' | 'none';

export interface ViewResult {
  readonly view: FeatureView;
  /** One per entity row of the request, in order. */
  readonly rows: readonly FeatureRow[];
  readonly sources: readonly FeatureSource[];
  /** The rows served past max_age because the view's origin failed (STALE); absent when none was. */
  readonly stale?: ReadonlySet<number>;
}

export interface GetFeaturesResult {
  readonly refs: readonly FeatureRef[];
  readonly views: readonly ViewResult[];
  readonly entities: number;
  /** The time statuses were judged at. */
  readonly now: number;
}
