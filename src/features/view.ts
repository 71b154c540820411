import type { FeatureTypeName, ViewSpec } from './view_schema.js';

export interface FeatureSpec {
  readonly name: string;
  readonly type: FeatureTypeName;
  /** Vector dimension; 1 for scalars. */
  readonly dim: number;
}

export interface JoinKey {
  readonly name: string;
  readonly type: 'string' | 'int64';
}

export interface OriginSpec {
  readonly url: string;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly maxBatch: number;
  readonly serveStaleOnError: boolean;
  /** How far past max_age a stored row may be served (STALE) when the origin fails. */
  readonly staleGraceMs: number;
}

/** A feature view as the sidecar uses it: its schema, lifetimes and origin, normalised once. */
export interface FeatureView {
  readonly name: string;
  readonly joinKeys: readonly JoinKey[];
  readonly features: readonly FeatureSpec[];
  /** Feature name -> its position in `features` (and in a stored row). */
  readonly index: ReadonlyMap<string, number>;
  readonly maxAgeMs: number;
  /** Lifetime of a row in Redis. */
  readonly ttlMs: number;
  /** Lifetime of a row in L1 (never longer than in Redis). */
  readonly l1TtlMs: number;
  /** How long an entity found nowhere is remembered (L1 only). */
  readonly notFoundTtlMs: number;
  readonly origin: OriginSpec | undefined;
}

export interface ViewDefaults {
  readonly l1TtlMs: number;
  readonly notFoundTtlMs: number;
}

export function toFeatureView(spec: ViewSpec, defaults: ViewDefaults): FeatureView {
  // By default Redis keeps a row for max_age plus a grace of max_age, or of
  // the origin's stale_grace when that is longer: a row gone from Redis
  // cannot be served stale.
  const staleGrace = spec.origin?.stale_grace;
  const ttlMs = spec.ttl ?? spec.max_age + Math.max(spec.max_age, staleGrace ?? 0);
  return {
    name: spec.name,
    joinKeys: spec.entities.map((e) => ({ name: e.name, type: e.type })),
    features: spec.features.map((f) => ({ name: f.name, type: f.type, dim: f.dim ?? 1 })),
    index: new Map(spec.features.map((f, i) => [f.name, i])),
    maxAgeMs: spec.max_age,
    ttlMs,
    l1TtlMs: Math.min(defaults.l1TtlMs, ttlMs),
    notFoundTtlMs: spec.not_found_ttl ?? defaults.notFoundTtlMs,
    origin:
      spec.origin === undefined
        ? undefined
        : {
            url: spec.origin.url,
            timeoutMs: spec.origin.timeout,
            concurrency: spec.origin.concurrency,
            maxBatch: spec.origin.max_batch,
            serveStaleOnError: spec.origin.serve_stale_on_error,
            // By default, as long as Redis keeps the row.
            staleGraceMs: staleGrace ?? ttlMs - spec.max_age,
          },
  };
}
