import type { GetFeaturesResult } from '../../src/features/feature_result.js';
import type { FeatureRow, FeatureValue } from '../../src/features/feature_row.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import { viewSchema } from '../../src/features/view_schema.js';
import type { ModelMetadata } from '../../src/model/metadata.js';
import type { ReadyVersion } from '../../src/model/registry.js';
import type { Dim, TensorSpec } from '../../src/model/signature.js';
import { DType } from '../../src/tensor/dtypes.js';

// Views, model versions and feature results built in memory, for the unit
// tests of Predict by entity: no Redis, no model files.

export const HOUR = 3_600_000;

/** A view keyed by flower_id (int64) with the given features ("name type" or "name float32_vector 3"). */
export function view(name: string, features: string[], maxAgeMs = HOUR): FeatureView {
  const spec = viewSchema.parse({
    name,
    entities: [{ name: 'flower_id', type: 'int64' }],
    features: features.map((f) => {
      const [fname, type, dim] = f.split(' ');
      return { name: fname, type, ...(dim === undefined ? {} : { dim: Number(dim) }) };
    }),
    max_age: maxAgeMs,
  });
  return toFeatureView(spec, { l1TtlMs: 60_000, notFoundTtlMs: 5000 });
}

export function viewsOf(...list: FeatureView[]): Map<string, FeatureView> {
  return new Map(list.map((v) => [v.name, v]));
}

export const spec = (name: string, dtype: DType, dims: Dim[] | undefined): TensorSpec => ({
  name,
  dtype,
  dims,
});

/** The iris signature: features float32 [N, 4] -> probabilities float32 [N, 3], label int64 [N]. */
const IRIS_INPUTS = [spec('features', DType.FLOAT32, ['N', 4])];
export const IRIS_OUTPUTS = [
  spec('probabilities', DType.FLOAT32, ['N', 3]),
  spec('label', DType.INT64, ['N']),
];

/** A loaded version with this signature and model.json entityInputs. */
export function version(
  entityInputs: ModelMetadata['entityInputs'],
  inputs: TensorSpec[] = IRIS_INPUTS,
  outputs: TensorSpec[] = IRIS_OUTPUTS,
  rowCacheable = true,
): ReadyVersion {
  return {
    state: 'ready',
    name: 'm',
    version: '1',
    path: '/nowhere/model.onnx',
    digest: Buffer.alloc(16),
    sessionKey: '/nowhere/model.onnx#0',
    signature: { inputs, outputs, rowCacheable },
    metadata: { description: '', labels: [], rowCacheable, ...(entityInputs ? { entityInputs } : {}) },
  };
}

/** A view's row of one entity: present values (undefined: the entity has no row). */
export function row(values: FeatureValue[] | undefined, eventTime: number): FeatureRow {
  return { eventTime, values, writtenAt: eventTime };
}

/** A GetFeatures result of these views' rows (one list per view, one row per entity), judged at `now`. */
export function featuresResult(rows: ReadonlyMap<FeatureView, FeatureRow[]>, now: number): GetFeaturesResult {
  const views = [...rows].map(([v, list]) => ({
    view: v,
    rows: list,
    sources: list.map((r) => (r.values === undefined ? ('none' as const) : ('l2' as const))),
  }));
  return { refs: [], views, entities: views[0]?.rows.length ?? 0, now };
}
