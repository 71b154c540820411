import { describe, expect, it } from 'vitest';
import type { FeatureRow } from '../../src/features/feature_row.js';
import type { FeatureView } from '../../src/features/view.js';
import type { ModelMetadata } from '../../src/model/metadata.js';
import type { TensorSpec } from '../../src/model/signature.js';
import { compileEntityPlan, type EntityPlan } from '../../src/predict/entity_plan.js';
import { buildRows } from '../../src/predict/entity_rows.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { decodeStrings } from '../../src/tensor/strings.js';
import { featuresResult, HOUR, row, spec, version, view, viewsOf } from '../helpers/entity_fixtures.js';

const NOW = 1_800_000_000_000;
const FRESH = NOW - 1000;
const STALE = NOW - 2 * HOUR;

const sepals = view('sepals', ['length float32', 'width float32']);
const petals = view('petals', ['length float32', 'width float32']);
const views = viewsOf(sepals, petals);

const mapping = (defaults: (number | null)[]): ModelMetadata['entityInputs'] => ({
  features: { features: ['sepals:length', 'sepals:width', 'petals:length', 'petals:width'], defaults },
});
/** sepals:length and petals:width without defaults; sepals:width and petals:length with defaults 3 and 4.5. */
const IRIS_LIKE = mapping([null, 3, 4.5, null]);

function plan(mapping: ModelMetadata['entityInputs'], inputs?: TensorSpec[]): EntityPlan {
  return compileEntityPlan(version(mapping, inputs), views) as EntityPlan;
}

/** The bytes in an ArrayBuffer of their own (Buffer.from may hand out a slice of a shared pool). */
const own = (b: Buffer | undefined) => Uint8Array.from(b ?? []).buffer;
const f32 = (t: HostTensor | undefined) => Array.from(new Float32Array(own(t?.data)));

function build(rows: Map<FeatureView, FeatureRow[]>, mapping = IRIS_LIKE, inputs?: TensorSpec[]) {
  return buildRows(plan(mapping, inputs), featuresResult(rows, NOW));
}

describe('entity rows: features into model input rows', () => {
  it('fills each OK row with its features in order, rows in request order', () => {
    const built = build(
      new Map([
        [sepals, [row([5.5, 2.5], FRESH), row([6.5, 3.5], FRESH)]],
        [petals, [row([1.5, 0.25], FRESH), row([5, 2], FRESH)]],
      ]),
    );
    expect(built.statuses).toEqual(['ok', 'ok']);
    expect(built.ok).toEqual([0, 1]);
    const t = built.inputs.get('features');
    expect(t?.dtype).toBe(DType.FLOAT32);
    expect(t?.dims).toEqual([2, 4]);
    expect(f32(t)).toEqual([5.5, 2.5, 1.5, 0.25, 6.5, 3.5, 5, 2]);
  });

  it('uses the default of a null value, and without one leaves the row out as FEATURE_MISSING', () => {
    const built = build(
      new Map([
        [sepals, [row([5.5, null], FRESH), row([null, 3.5], FRESH), row([6, 3], FRESH)]],
        [petals, [row([null, 0.5], FRESH), row([1, 1], FRESH), row([2, 2], FRESH)]],
      ]),
    );
    expect(built.statuses).toEqual(['ok', 'feature_missing', 'ok']);
    expect(built.ok).toEqual([0, 2]);
    expect(f32(built.inputs.get('features'))).toEqual([5.5, 3, 4.5, 0.5, 6, 3, 2, 2]);
  });

  it('replaces a value past max_age by its default, and without one leaves the row out', () => {
    const built = build(
      new Map([
        [sepals, [row([5.5, 2.5], FRESH), row([5.5, 2.5], FRESH)]],
        // Row 0's petals are stale: petals:length has a default, petals:width has none.
        [petals, [row([9, 9], STALE), row([1, 1], FRESH)]],
      ]),
    );
    expect(built.statuses).toEqual(['feature_missing', 'ok']);
    const both = build(
      new Map([
        [sepals, [row([5.5, 2.5], STALE)]],
        [petals, [row([9, 0.5], STALE)]],
      ]),
      mapping([1, 2, 3, 4]),
    );
    expect(both.statuses).toEqual(['ok']);
    // The stale values are not used, even though GetFeatures still returns them.
    expect(f32(both.inputs.get('features'))).toEqual([1, 2, 3, 4]);
  });

  it('reports ENTITY_NOT_FOUND when a view has no row and a feature of it has no default, before FEATURE_MISSING', () => {
    const built = build(
      new Map([
        [sepals, [row(undefined, 0), row([null, null], FRESH), row([5, 2], FRESH)]],
        [petals, [row([1, 1], FRESH), row(undefined, 0), row(undefined, 0)]],
      ]),
    );
    // Row 1: sepals:length is null (missing) and petals has no row (not found): not found wins.
    expect(built.statuses).toEqual(['entity_not_found', 'entity_not_found', 'entity_not_found']);
    expect(built.ok).toEqual([]);
    expect(built.inputs.size).toBe(0);
    const allDefaults = build(
      new Map([
        [sepals, [row(undefined, 0)]],
        [petals, [row(undefined, 0)]],
      ]),
      mapping([1, 2, 3, 4]),
    );
    expect(allDefaults.statuses).toEqual(['ok']);
    expect(f32(allDefaults.inputs.get('features'))).toEqual([1, 2, 3, 4]);
  });

  it('converts to the input dtype: int64 from integers and booleans, float64, strings, vectors', () => {
    const kinds = view('kinds', [
      'count int64',
      'small int32',
      'seen bool',
      'name string',
      'vec float32_vector 2',
      'wide float64',
    ]);
    const rowsOf = new Map([
      [kinds, [row([2n ** 60n, -7, true, 'setosa', Float32Array.of(0.5, -1), 0.1], FRESH)]],
    ]);
    const withKinds = viewsOf(kinds);
    const inputs = [
      spec('ints', DType.INT64, ['N', 3]),
      spec('floats', DType.FLOAT64, ['N', 4]),
      spec('names', DType.STRING, ['N']),
    ];
    const p = compileEntityPlan(
      version(
        {
          ints: { features: ['kinds:count', 'kinds:small', 'kinds:seen'] },
          floats: { features: ['kinds:vec', 'kinds:small', 'kinds:wide'] },
          names: { features: ['kinds:name'] },
        },
        inputs,
      ),
      withKinds,
    ) as EntityPlan;
    const built = buildRows(p, featuresResult(rowsOf, NOW));
    const ints = built.inputs.get('ints') as HostTensor;
    expect(Array.from(new BigInt64Array(own(ints.data)))).toEqual([2n ** 60n, -7n, 1n]);
    const floats = built.inputs.get('floats') as HostTensor;
    expect(Array.from(new Float64Array(own(floats.data)))).toEqual([0.5, -1, -7, 0.1]);
    const names = built.inputs.get('names') as HostTensor;
    expect(names.dims).toEqual([1]);
    expect(decodeStrings(names.data, 1)).toEqual(['setosa']);
  });
});
