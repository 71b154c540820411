import { describe, expect, it } from 'vitest';
import { InferCacheError } from '../../src/errors.js';
import type { EntityColumnWire } from '../../src/features/entity_keys.js';
import type { FeatureRow } from '../../src/features/feature_row.js';
import type { FeatureView } from '../../src/features/view.js';
import type { ModelMetadata } from '../../src/model/metadata.js';
import type { NamedTensor } from '../../src/model/pool.js';
import type { Model, ReadyVersion } from '../../src/model/registry.js';
import { EntityPlans } from '../../src/predict/entity_plan.js';
import { EntityPredictService } from '../../src/predict/entity_service.js';
import type { PinnedRequest, PredictResult, RowSource } from '../../src/predict/service.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { featuresResult, row, version, view, viewsOf } from '../helpers/entity_fixtures.js';

const NOW = 1_800_000_000_000;
const sepals = view('sepals', ['length float32', 'width float32']);
const petals = view('petals', ['length float32', 'width float32']);
const VIEWS = viewsOf(sepals, petals);
const MAPPING: ModelMetadata['entityInputs'] = {
  features: { features: ['sepals:length', 'sepals:width', 'petals:length', 'petals:width'] },
};
/** The stored rows: flower id -> [sepal length, width, petal length, width]. */
const STORED = new Map<number, number[]>([
  [1, [5, 3, 1, 0.5]],
  [2, [6, 3, 4, 1.5]],
  [3, [7, 3, 6, 2]],
]);

/** A FeatureReader stand-in: answers from STORED and records every call. */
function fakeFeatures() {
  const calls: { refs: readonly string[]; ids: (string | number)[] }[] = [];
  return {
    calls,
    async get(refs: readonly string[], columns: readonly EntityColumnWire[]) {
      const ids = [...(columns[0]?.int64_values ?? [])];
      calls.push({ refs, ids });
      const rows = new Map<FeatureView, FeatureRow[]>([
        [sepals, ids.map((id) => rowOf(id, 0))],
        [petals, ids.map((id) => rowOf(id, 2))],
      ]);
      return featuresResult(rows, NOW);
    },
  };
}
const rowOf = (id: string | number, at: number) => {
  const v = STORED.get(Number(id));
  return v === undefined ? row(undefined, 0) : row(v.slice(at, at + 2), NOW - 1000);
};

/**
 * A PredictService stand-in: "probabilities" is each row's four values
 * doubled, "label" its first value; every row comes from `source`.
 */
function fakePredictions(source: RowSource = 'model', rowCached = true) {
  const runs: HostTensor[] = [];
  return {
    runs,
    async predictOn(mv: ReadyVersion, req: PinnedRequest): Promise<PredictResult> {
      const x = req.inputs.get('features') as HostTensor;
      runs.push(x);
      const rows = x.dims[0] as number;
      const values = new Float32Array(Uint8Array.from(x.data).buffer);
      const probabilities = Float32Array.from(values, (v) => 2 * v);
      const label = BigInt64Array.from({ length: rows }, (_, r) => BigInt(values[4 * r] as number));
      const out = (name: string, dtype: DType, dims: number[], a: ArrayBufferView): NamedTensor => ({
        name,
        dtype,
        dims,
        data: Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      });
      return {
        model: mv.name,
        version: mv.version,
        outputs: [
          out('probabilities', DType.FLOAT32, [rows, 4], probabilities),
          out('label', DType.INT64, [rows], label),
        ],
        rowSources: rowCached ? new Array(rows).fill(source) : [source],
        rowCached,
      };
    },
  };
}

function service(
  opts: { mapping?: ModelMetadata['entityInputs']; predictions?: ReturnType<typeof fakePredictions> } = {},
) {
  const { signature } = version(undefined);
  // probabilities is [N, 4] here: the stand-in doubles the four inputs.
  const outputs = [
    { name: 'probabilities', dtype: DType.FLOAT32, dims: ['N', 4] },
    { name: 'label', dtype: DType.INT64, dims: ['N'] },
  ] as const;
  const mv = version('mapping' in opts ? opts.mapping : MAPPING, [...signature.inputs], [...outputs]);
  const models = new Map<string, Model>([['m', { name: 'm', versions: [mv], current: mv }]]);
  const features = fakeFeatures();
  const predictions = opts.predictions ?? fakePredictions();
  const plans = new EntityPlans(() => VIEWS);
  const svc = new EntityPredictService({
    models: () => models,
    plans,
    features,
    predictions,
    maxEntityRows: 100,
    maxBatchRows: 10,
  });
  const predict = (ids: (number | string)[]) =>
    svc.predict({
      model: 'm',
      version: '',
      entities: [{ name: 'flower_id', string_values: [], int64_values: ids }],
      cache: { bypass: false, noStore: false, maxAgeMs: 0 },
      deadline: Date.now() + 10_000,
      signal: new AbortController().signal,
    });
  return { predict, features, predictions };
}

const f32 = (t: NamedTensor | undefined) =>
  Array.from(new Float32Array(Uint8Array.from(t?.data ?? []).buffer));
const i64 = (t: NamedTensor | undefined) =>
  Array.from(new BigInt64Array(Uint8Array.from(t?.data ?? []).buffer));

describe('Predict by entity (service)', () => {
  it('fetches every feature of every view in one call and runs the model once on the rows built', async () => {
    const { predict, features, predictions } = service();
    const result = await predict([2, 1, 3]);
    expect(features.calls).toEqual([
      { refs: ['sepals:length', 'sepals:width', 'petals:length', 'petals:width'], ids: [2, 1, 3] },
    ]);
    expect(predictions.runs).toHaveLength(1);
    expect(predictions.runs[0]?.dims).toEqual([3, 4]);
    expect(result.rowStatuses).toEqual(['ok', 'ok', 'ok']);
    expect(result.rowSources).toEqual(['model', 'model', 'model']);
    expect(f32(result.outputs[0])).toEqual([12, 6, 8, 3, 10, 6, 2, 1, 14, 6, 12, 4]);
    expect(i64(result.outputs[1])).toEqual([6n, 5n, 7n]);
  });

  it('leaves rows that are not OK out of the model run: zeros, ROW_SOURCE_NONE, the call succeeds', async () => {
    const { predict, predictions } = service();
    const result = await predict([404, 2, 405, 1]);
    expect(result.rowStatuses).toEqual(['entity_not_found', 'ok', 'entity_not_found', 'ok']);
    expect(result.rowSources).toEqual(['none', 'model', 'none', 'model']);
    expect(predictions.runs[0]?.dims).toEqual([2, 4]);
    expect(f32(predictions.runs[0] as NamedTensor)).toEqual([6, 3, 4, 1.5, 5, 3, 1, 0.5]);
    expect(result.outputs[0]?.dims).toEqual([4, 4]);
    expect(f32(result.outputs[0])).toEqual([0, 0, 0, 0, 12, 6, 8, 3, 0, 0, 0, 0, 10, 6, 2, 1]);
    expect(i64(result.outputs[1])).toEqual([0n, 6n, 0n, 5n]);
  });

  it('runs no model when no row is OK, and still answers with zeros of the declared shapes', async () => {
    const { predict, predictions } = service();
    const result = await predict([404, 405]);
    expect(predictions.runs).toHaveLength(0);
    expect(result.rowStatuses).toEqual(['entity_not_found', 'entity_not_found']);
    expect(result.rowSources).toEqual(['none', 'none']);
    expect(result.outputs.map((o) => [o.name, o.dims])).toEqual([
      ['probabilities', [2, 4]],
      ['label', [2]],
    ]);
    expect(f32(result.outputs[0])).toEqual(new Array(8).fill(0));
  });

  it('fetches and predicts a repeated entity once, answering it at every position', async () => {
    const { predict, features, predictions } = service();
    const result = await predict([1, 2, 1, '1', 404, 404]);
    expect(features.calls[0]?.ids).toEqual([1, 2, 404]);
    expect(predictions.runs[0]?.dims).toEqual([2, 4]);
    expect(result.rowStatuses).toEqual(['ok', 'ok', 'ok', 'ok', 'entity_not_found', 'entity_not_found']);
    expect(i64(result.outputs[1])).toEqual([5n, 6n, 5n, 5n, 0n, 0n]);
  });

  it('gives every entity row a source also when the model caches requests whole', async () => {
    const { predict } = service({ predictions: fakePredictions('l2', false) });
    const result = await predict([1, 404, 2]);
    expect(result.rowSources).toEqual(['l2', 'none', 'l2']);
    expect(result.rowCached).toBe(false);
  });

  it('refuses a model that maps no inputs to features, and more entities than a batch may hold', async () => {
    const unmapped = service({ mapping: undefined });
    await expect(unmapped.predict([1])).rejects.toThrow(/maps no inputs to features .*send inputs instead/);
    const { predict, features } = service();
    const tooMany = await predict(Array.from({ length: 11 }, (_, i) => i)).catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(InferCacheError);
    expect((tooMany as InferCacheError).code).toBe('E_LIMIT_EXCEEDED');
    expect((tooMany as Error).message).toMatch(
      /11 entity rows given; the limit is 10 \(INFERCACHE_MAX_BATCH_ROWS\)/,
    );
    await expect(predict(Array.from({ length: 101 }, (_, i) => i))).rejects.toThrow(
      /INFERCACHE_MAX_ENTITY_ROWS/,
    );
    await expect(predict([])).rejects.toThrow(/no entity rows given/);
    expect(features.calls).toHaveLength(0);
  });
});
