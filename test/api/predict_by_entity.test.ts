import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelMetadata } from '../../src/model/metadata.js';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { EntityKeysInput, PredictRequest, PredictResponse } from '../helpers/client.js';
import { openDirect, runDirectF32, shippedModelPath } from '../helpers/direct_model.js';
import { metricValue } from '../helpers/metrics.js';
import {
  f32Of,
  f32Tensor,
  grpcError,
  IRIS_FEATURES,
  i64Of,
  irisRequest,
  irisRows,
  rawOf,
  SRC,
} from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// infercache.v1 enums, as the client decodes them.
const ST = { OK: 1, ENTITY_NOT_FOUND: 2, FEATURE_MISSING: 3 } as const;
const NONE = 4;
const FLOAT32 = 1;
const NULL_VALUE = 2;
const HOUR = 3_600_000;

const SEPALS = ['iris_flowers:sepal_length', 'iris_flowers:sepal_width'];
/**
 * iris_mixed: the iris model reading its sepals from iris_flowers and its
 * petals from iris_petals; sepal_width and both petal features have
 * defaults, sepal_length has none.
 */
const MIXED_DEFAULTS = [null, 3.0, 4.35, 1.3];

const VIEWS = {
  views: [
    {
      name: 'iris_flowers',
      entities: [{ name: 'flower_id', type: 'int64' }],
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']
        .map((name) => ({ name, type: 'float32' }))
        .concat([{ name: 'species', type: 'string' }]),
      max_age: '24h',
    },
    {
      name: 'iris_petals',
      entities: [{ name: 'flower_id', type: 'int64' }],
      features: [
        { name: 'petal_length', type: 'float32' },
        { name: 'petal_width', type: 'float32' },
      ],
      max_age: '1h',
    },
  ],
};

/** The test's model repository: iris as shipped, iris_mixed, iris_plain (no mapping), iris_bad. */
async function modelRepository(dir: string): Promise<void> {
  const iris = buildIrisModel();
  const as = (entityInputs: ModelMetadata['entityInputs']) => ({
    onnx: iris.onnx,
    meta: { ...iris.meta, entityInputs },
  });
  await writeModel(dir, 'iris', 1, iris);
  await writeModel(
    dir,
    'iris_mixed',
    1,
    as({
      features: {
        features: [...SEPALS, 'iris_petals:petal_length', 'iris_petals:petal_width'],
        defaults: MIXED_DEFAULTS,
      },
    }),
  );
  await writeModel(dir, 'iris_plain', 1, as(undefined));
  await writeModel(
    dir,
    'iris_bad',
    1,
    as({ features: { features: [...SEPALS, 'iris_flowers:petal_length', 'iris_flowers:stem_width'] } }),
  );
  await writeFile(join(dir, 'views.json'), JSON.stringify(VIEWS));
}

const ids = (...flowerIds: number[]): EntityKeysInput => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});

/** A feature row to put: values in the view's order (null: a null value), with its event time. */
interface Put {
  id: number;
  values: (number | null)[];
  eventTime?: number;
}

async function put(sidecar: Sidecar, view: string, names: string[], rows: Put[]): Promise<void> {
  const now = Date.now();
  const res = await sidecar.client.putFeatures({
    view,
    entities: ids(...rows.map((r) => r.id)),
    features: names.map((name, j) => ({
      name,
      type: FLOAT32,
      float32_values: rows.map((r) => r.values[j] ?? 0),
      statuses: rows.map((r) => (r.values[j] === null ? NULL_VALUE : 0)),
    })),
    event_time_ms: rows.map((r) => r.eventTime ?? now),
  });
  expect(res.written).toBe(rows.length);
}

const FLOWER_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const putFlowers = (s: Sidecar, rows: Put[]) => put(s, 'iris_flowers', FLOWER_FEATURES, rows);
const putPetals = (s: Sidecar, rows: Put[]) => put(s, 'iris_petals', ['petal_length', 'petal_width'], rows);

/** The rows of a response's probabilities, as float32 numbers. */
const probabilityRows = (res: PredictResponse) => {
  const all = Array.from(f32Of(res.outputs.probabilities));
  return Array.from({ length: all.length / 3 }, (_, r) => all.slice(3 * r, 3 * r + 3));
};

describe('Predict by entity', () => {
  let dir: string;
  let a: Sidecar;
  let b: Sidecar;
  let iris: InferenceSession;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-by-entity-'));
    await modelRepository(dir);
    const env = {
      INFERCACHE_FEATURE_VIEWS: join(dir, 'views.json'),
      INFERCACHE_MAX_BATCH_ROWS: '40',
      INFERCACHE_MAX_ENTITY_ROWS: '50',
    };
    a = await startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, env });
    // B shares A's Redis keys but not its L1: what A stores, B finds in L2.
    [b, iris] = await Promise.all([
      startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, keyPrefix: a.keyPrefix, env }),
      openDirect(shippedModelPath('iris')),
    ]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await iris?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('predicts from the entities features as from the same values sent as tensors, which then come from L1', async () => {
    const rows = irisRows(3);
    await putFlowers(
      a,
      rows.map((values, i) => ({ id: 1 + i, values })),
    );

    const byEntity = await a.client.predict({ model: 'iris', entities: ids(1, 2, 3) });
    expect(byEntity.row_statuses).toEqual([ST.OK, ST.OK, ST.OK]);
    expect(byEntity.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(byEntity.row_cached).toBe(true);
    const direct = await runDirectF32(iris, 'features', [3, IRIS_FEATURES], rows.flat());
    expect(rawOf(byEntity.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(byEntity.outputs.label)).toEqual(direct.label);

    const byTensor = await a.client.predict(irisRequest(rows));
    expect(byTensor.row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    expect(byTensor.row_statuses).toEqual([]);
    expect(rawOf(byTensor.outputs.probabilities)).toEqual(rawOf(byEntity.outputs.probabilities));

    const again = await a.client.predict({ model: 'iris', entities: ids(3, 1), typed_outputs: true });
    expect(again.row_sources).toEqual([SRC.L1, SRC.L1]);
    const labels = i64Of(byEntity.outputs.label);
    expect(i64Of(again.outputs.label)).toEqual([labels[2], labels[0]]);
  });

  it('answers a missing entity with ENTITY_NOT_FOUND, zeros and ROW_SOURCE_NONE while the other rows are predicted', async () => {
    const rows = irisRows(2);
    await putFlowers(a, [
      { id: 4, values: rows[0] as number[] },
      { id: 5, values: rows[1] as number[] },
    ]);
    const rowsRun = async () =>
      metricValue(await a.metrics(), 'infercache_inference_batch_rows_sum', { model: 'iris' }) ?? 0;
    const before = await rowsRun();

    const res = await a.client.predict({ model: 'iris', entities: ids(4, 9404, 5) });
    expect(res.row_statuses).toEqual([ST.OK, ST.ENTITY_NOT_FOUND, ST.OK]);
    expect(res.row_sources).toEqual([SRC.MODEL, NONE, SRC.MODEL]);
    // The missing row never reached the model.
    expect((await rowsRun()) - before).toBe(2);
    expect(res.outputs.probabilities?.shape).toEqual(['3', '3']);
    const [first, missing, last] = probabilityRows(res);
    expect(missing).toEqual([0, 0, 0]);
    expect(i64Of(res.outputs.label)[1]).toBe(0n);
    const tensors = await a.client.predict(irisRequest(rows));
    expect(tensors.row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(probabilityRows(tensors)).toEqual([first, last]);

    // No row can be built: the model does not run, the call still succeeds.
    const none = await a.client.predict({ model: 'iris', entities: ids(9405, 9406) });
    expect(none.row_statuses).toEqual([ST.ENTITY_NOT_FOUND, ST.ENTITY_NOT_FOUND]);
    expect(none.row_sources).toEqual([NONE, NONE]);
    expect(probabilityRows(none)).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect((await rowsRun()) - before).toBe(2);
  });

  it('fills a null feature from its default, and answers FEATURE_MISSING for one without', async () => {
    const [r10, r11] = irisRows(2) as [number[], number[]];
    await putFlowers(a, [
      { id: 10, values: [r10[0] as number, null, 0, 0] },
      { id: 11, values: [null, ...r11.slice(1)] },
    ]);
    await putPetals(a, [
      { id: 10, values: r10.slice(2) },
      { id: 11, values: r11.slice(2) },
    ]);
    const res = await a.client.predict({ model: 'iris_mixed', entities: ids(10, 11) });
    expect(res.row_statuses).toEqual([ST.OK, ST.FEATURE_MISSING]);
    expect(res.row_sources).toEqual([SRC.MODEL, NONE]);

    // Row 10 ran with sepal_width's default: the same values as tensors are an L1 hit.
    const withDefault = [r10[0] as number, 3.0, r10[2] as number, r10[3] as number];
    const tensors = await a.client.predict(mixedRequest([withDefault]));
    expect(tensors.row_sources).toEqual([SRC.L1]);
    expect(probabilityRows(tensors)[0]).toEqual(probabilityRows(res)[0]);
  });

  it('replaces values past max_age by their defaults, and answers FEATURE_MISSING for one without', async () => {
    const [r12, r13, r14] = irisRows(3) as [number[], number[], number[]];
    const old = Date.now() - 2 * HOUR;
    await putFlowers(a, [
      { id: 12, values: r12 },
      { id: 13, values: r13, eventTime: Date.now() - 25 * HOUR },
      { id: 14, values: r14 },
    ]);
    // 12's petals are older than iris_petals' max_age (1h); 14 has no petals row at all.
    await putPetals(a, [
      { id: 12, values: r12.slice(2), eventTime: old },
      { id: 13, values: r13.slice(2) },
    ]);
    const res = await a.client.predict({ model: 'iris_mixed', entities: ids(12, 13, 14, 9415) });
    expect(res.row_statuses).toEqual([ST.OK, ST.FEATURE_MISSING, ST.OK, ST.ENTITY_NOT_FOUND]);
    expect(res.row_sources).toEqual([SRC.MODEL, NONE, SRC.MODEL, NONE]);

    // The stale petals were not used: 12 and 14 ran with the petal defaults.
    const tensors = await a.client.predict(
      mixedRequest([
        [r12[0] as number, r12[1] as number, 4.35, 1.3],
        [r14[0] as number, r14[1] as number, 4.35, 1.3],
      ]),
    );
    expect(tensors.row_sources).toEqual([SRC.L1, SRC.L1]);
    const rows = probabilityRows(res);
    expect(probabilityRows(tensors)).toEqual([rows[0], rows[2]]);
  });

  it('takes one Redis round trip for the features of every view, one for the predictions, and one model run', async () => {
    const [r30, r31] = irisRows(2) as [number[], number[]];
    await putFlowers(a, [
      { id: 30, values: r30 },
      { id: 31, values: r31 },
    ]);
    await putPetals(a, [
      { id: 30, values: r30.slice(2) },
      { id: 31, values: r31.slice(2) },
    ]);
    const sample = async () => {
      const body = await b.metrics();
      const value = (name: string, labels: Record<string, string>) => metricValue(body, name, labels) ?? 0;
      return {
        mget: value('infercache_redis_operation_duration_seconds_count', { op: 'mget' }),
        runs: value('infercache_inference_batch_rows_count', { model: 'iris_mixed' }),
        rows: value('infercache_inference_batch_rows_sum', { model: 'iris_mixed' }),
        featureHits: value('infercache_cache_lookups_total', { kind: 'f', tier: 'l2', result: 'hit' }),
      };
    };
    const delta = async (call: () => Promise<PredictResponse>) => {
      const before = await sample();
      const res = await call();
      const after = await sample();
      return {
        res,
        mget: after.mget - before.mget,
        runs: after.runs - before.runs,
        rows: after.rows - before.rows,
        featureHits: after.featureHits - before.featureHits,
      };
    };

    // B has none of these rows in L1. One MGET holds both views' rows of
    // both distinct entities (30 is asked for twice, fetched once); the
    // second is the prediction rows'.
    const first = await delta(() => b.client.predict({ model: 'iris_mixed', entities: ids(30, 31, 30) }));
    expect(first.res.row_statuses).toEqual([ST.OK, ST.OK, ST.OK]);
    expect(first.res.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(first).toMatchObject({ mget: 2, runs: 1, rows: 2, featureHits: 4 });

    // Everything is in B's L1 now: no Redis call, no model run.
    const second = await delta(() => b.client.predict({ model: 'iris_mixed', entities: ids(31, 30) }));
    expect(second.res.row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(second).toMatchObject({ mget: 0, runs: 0, rows: 0, featureHits: 0 });
  });

  it('refuses inputs and entities together, and entities for a model that maps no inputs', async () => {
    const both: PredictRequest = { ...irisRequest(irisRows(1)), entities: ids(1) };
    const err = await grpcError(a.client.predict(both));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/give either inputs or entities, not both/);

    const plain = await grpcError(a.client.predict({ model: 'iris_plain', entities: ids(1) }));
    expect(plain.code).toBe(status.INVALID_ARGUMENT);
    expect(plain.details).toMatch(/model iris_plain version 1 maps no inputs to features/);
  });

  it('refuses more entities than INFERCACHE_MAX_ENTITY_ROWS or INFERCACHE_MAX_BATCH_ROWS allow', async () => {
    const range = (n: number) => ids(...Array.from({ length: n }, (_, i) => 1000 + i));
    const entityRows = await grpcError(a.client.predict({ model: 'iris', entities: range(51) }));
    expect(entityRows.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(entityRows.details).toMatch(
      /51 entity rows given; the limit is 50 \(INFERCACHE_MAX_ENTITY_ROWS\)/,
    );
    const batchRows = await grpcError(a.client.predict({ model: 'iris', entities: range(41) }));
    expect(batchRows.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(batchRows.details).toMatch(/41 entity rows given; the limit is 40 \(INFERCACHE_MAX_BATCH_ROWS\)/);
  });

  it('loads a model whose mapping names an unknown feature: it serves inputs, refuses entities with the reason, and ListModels says why', async () => {
    const { models } = await a.client.listModels();
    const bad = models.find((m) => m.name === 'iris_bad');
    const why = 'model.json entityInputs: input "features": view iris_flowers has no feature "stem_width"';
    expect(bad?.current_version).toBe('1');
    expect(bad?.versions[0]?.state).toBe(1);
    expect(bad?.versions[0]?.entity_keys).toEqual([]);
    expect(bad?.versions[0]?.entity_error).toBe(why);
    expect(await a.client.health('infercache.v1.InferCache/iris_bad')).toBe('SERVING');
    const byInputs = await a.client.predict({
      model: 'iris_bad',
      inputs: { features: f32Tensor([1, IRIS_FEATURES], [5.1, 3.5, 1.4, 0.2]) },
    });
    expect(byInputs.row_sources).toHaveLength(1);
    const call = await grpcError(a.client.predict({ model: 'iris_bad', entities: ids(1) }));
    expect(call.code).toBe(status.FAILED_PRECONDITION);
    expect(call.details).toBe(
      `E_NOT_CALLABLE_BY_ENTITY: model iris_bad version 1 cannot be called by entity: ${why}`,
    );
    const good = models.find((m) => m.name === 'iris');
    expect(good?.versions[0]?.entity_error).toBe('');
  });

  it('lists the join keys of the versions callable by entity', async () => {
    const { models } = await a.client.listModels();
    const keys = (name: string) => models.find((m) => m.name === name)?.versions[0]?.entity_keys;
    expect(keys('iris')).toEqual([{ name: 'flower_id', type: 'int64' }]);
    expect(keys('iris_mixed')).toEqual([{ name: 'flower_id', type: 'int64' }]);
    expect(keys('iris_plain')).toEqual([]);
  });
});

function mixedRequest(rows: number[][]): PredictRequest {
  return { model: 'iris_mixed', inputs: { features: f32Tensor([rows.length, IRIS_FEATURES], rows.flat()) } };
}
