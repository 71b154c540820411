import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildFlowerEmbeddingModel } from '../../src/model/zoo/flower_embedding.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import { DataType, encodeModel, floatTensor, node, valueInfo } from '../../src/model/zoo/onnx_graph.js';
import { FLOAT16_ABSOLUTE_ERROR, FLOAT16_RELATIVE_ERROR } from '../../src/tensor/float16.js';
import type { EntityKeysInput } from '../helpers/client.js';
import { openDirect, runDirectF32 } from '../helpers/direct_model.js';
import { metricValue } from '../helpers/metrics.js';
import {
  eventually,
  f32FromBytes,
  f32Tensor,
  grpcError,
  IRIS_FEATURES,
  irisRows,
  SRC,
} from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// infercache.v1 enums, as the client decodes them.
const ST = { OK: 1, ENTITY_NOT_FOUND: 2 } as const;
const NONE = 4;
const DT_FLOAT32 = 1;
const DT_FLOAT16 = 10;
const DIM = 32;

interface EmbeddingsResponse {
  model: string;
  version: string;
  dim: number;
  vectors: number[];
  row_sources: number[];
  row_statuses: number[];
  normalized: boolean;
  stored_dtype: number;
}

const VIEWS = {
  views: [
    {
      name: 'iris_flowers',
      entities: [{ name: 'flower_id', type: 'int64' }],
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name) => ({
        name,
        type: 'float32',
      })),
      max_age: '24h',
    },
  ],
};

/** The shipped embedding model (float16 storage), the same graph stored as float32, and iris (no embedding). */
async function modelRepository(dir: string): Promise<void> {
  const built = buildFlowerEmbeddingModel();
  await writeModel(dir, 'flower_embedding', 1, built);
  await writeModel(dir, 'flower_f32', 1, {
    onnx: built.onnx,
    meta: { ...built.meta, embedding: { output: 'embedding', storeAs: 'float32' } },
  });
  await writeModel(dir, 'iris', 1, buildIrisModel());
  await writeFile(join(dir, 'views.json'), JSON.stringify(VIEWS));
}

const ids = (...flowerIds: number[]): EntityKeysInput => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});

const byInputs = (model: string, rows: number[][], more: Record<string, unknown> = {}) => ({
  model,
  inputs: { features: f32Tensor([rows.length, IRIS_FEATURES], rows.flat()) },
  ...more,
});

/** The response's vectors, one array per row. */
const vectorsOf = (res: EmbeddingsResponse): number[][] =>
  Array.from({ length: res.vectors.length / res.dim }, (_, r) =>
    res.vectors.slice(r * res.dim, (r + 1) * res.dim),
  );

const unit = (v: number[]) => {
  const norm = Math.hypot(...v);
  return v.map((x) => Math.fround(x / norm));
};

/** Within float16's bound of `expected`, component by component. */
function expectWithinFloat16(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    const bound = Math.max(Math.abs(e) * FLOAT16_RELATIVE_ERROR, FLOAT16_ABSOLUTE_ERROR);
    expect(Math.abs(a - e), `component ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(bound);
  });
}

describe('GetEmbeddings', () => {
  let dir: string;
  let a: Sidecar;
  let b: Sidecar;
  let direct: InferenceSession;
  const embed = (s: Sidecar, req: unknown) => s.client.unary<EmbeddingsResponse>('GetEmbeddings', req);

  /** Raw onnxruntime's vectors for these rows, in the test process. */
  const reference = async (rows: number[][]) => {
    const out = await runDirectF32(direct, 'features', [rows.length, IRIS_FEATURES], rows.flat());
    const all = Array.from(f32FromBytes(out.embedding as Buffer));
    return Array.from({ length: rows.length }, (_, r) => all.slice(r * DIM, (r + 1) * DIM));
  };

  const put = async (s: Sidecar, rows: { id: number; values: number[] }[]) => {
    const res = await s.client.putFeatures({
      view: 'iris_flowers',
      entities: ids(...rows.map((r) => r.id)),
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name, j) => ({
        name,
        type: DT_FLOAT32,
        float32_values: rows.map((r) => r.values[j] as number),
      })),
      event_time_ms: rows.map(() => Date.now()),
    });
    expect(res.written).toBe(rows.length);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-embeddings-'));
    await modelRepository(dir);
    const env = { INFERCACHE_FEATURE_VIEWS: join(dir, 'views.json') };
    a = await startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, env });
    // B shares A's Redis keys but not its L1: what A stores, B finds in L2.
    [b, direct] = await Promise.all([
      startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, keyPrefix: a.keyPrefix, env }),
      openDirect(join(dir, 'flower_embedding', '1', 'model.onnx')),
    ]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await direct?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives float32-stored vectors equal to raw onnxruntime, computed in one run, then from L1 and from L2 elsewhere', async () => {
    const rows = irisRows(5).map((r) => r.map((x) => x + 0.25));
    const runsBefore = metricValue(await a.metrics(), 'infercache_inference_batch_rows_count', {
      model: 'flower_f32',
    });
    const first = await embed(a, byInputs('flower_f32', rows));
    expect(first).toMatchObject({ model: 'flower_f32', version: '1', dim: DIM, normalized: false });
    expect(first.stored_dtype).toBe(DT_FLOAT32);
    expect(first.row_sources).toEqual(rows.map(() => SRC.MODEL));
    const expected = await reference(rows);
    expect(vectorsOf(first)).toEqual(expected);
    // All five misses in one model run.
    const runsAfter = metricValue(await a.metrics(), 'infercache_inference_batch_rows_count', {
      model: 'flower_f32',
    });
    expect((runsAfter ?? 0) - (runsBefore ?? 0)).toBe(1);

    const again = await embed(a, byInputs('flower_f32', rows));
    expect(again.row_sources).toEqual(rows.map(() => SRC.L1));
    expect(again.vectors).toEqual(first.vectors);
    const elsewhere = await embed(b, byInputs('flower_f32', rows));
    expect(elsewhere.row_sources).toEqual(rows.map(() => SRC.L2));
    expect(elsewhere.vectors).toEqual(first.vectors);
  });

  it('stores float16 within the stated bound of float32, the same from every tier', async () => {
    const rows = irisRows(4).map((r) => r.map((x) => x + 0.5));
    const expected = await reference(rows);
    const first = await embed(a, byInputs('flower_embedding', rows));
    expect(first.stored_dtype).toBe(DT_FLOAT16);
    expect(first.row_sources).toEqual(rows.map(() => SRC.MODEL));
    vectorsOf(first).forEach((v, r) => {
      expectWithinFloat16(v, expected[r] as number[]);
    });
    // Not merely float32 passed through: the stored halves differ somewhere.
    expect(vectorsOf(first)).not.toEqual(expected);
    // What this call answered is what later calls get: the stored value.
    const l1 = await embed(a, byInputs('flower_embedding', rows));
    const l2 = await embed(b, byInputs('flower_embedding', rows));
    expect([l1.row_sources, l2.row_sources]).toEqual([rows.map(() => SRC.L1), rows.map(() => SRC.L2)]);
    expect(l1.vectors).toEqual(first.vectors);
    expect(l2.vectors).toEqual(first.vectors);
  });

  it('normalises to unit length on request, cached apart from the raw vectors', async () => {
    const rows = irisRows(3).map((r) => r.map((x) => x + 0.75));
    const raw = await embed(a, byInputs('flower_f32', rows));
    expect(raw.row_sources).toEqual(rows.map(() => SRC.MODEL));
    const normalized = await embed(a, byInputs('flower_f32', rows, { normalize: true }));
    expect(normalized.normalized).toBe(true);
    // Its own key: not answered from the raw vectors' entries.
    expect(normalized.row_sources).toEqual(rows.map(() => SRC.MODEL));
    vectorsOf(normalized).forEach((v, r) => {
      const want = unit(vectorsOf(raw)[r] as number[]);
      v.forEach((x, i) => {
        expect(x).toBeCloseTo(want[i] as number, 6);
      });
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    });
    expect((await embed(a, byInputs('flower_f32', rows, { normalize: true }))).row_sources).toEqual(
      rows.map(() => SRC.L1),
    );
    expect((await embed(a, byInputs('flower_f32', rows))).vectors).toEqual(raw.vectors);
  });

  it('keeps the float16 and float32 models apart although their graphs are the same', async () => {
    const rows = irisRows(2).map((r) => r.map((x) => x + 1.25));
    const f32 = await embed(a, byInputs('flower_f32', rows));
    const f16 = await embed(a, byInputs('flower_embedding', rows));
    expect(f32.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(f16.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(f16.vectors).not.toEqual(f32.vectors);
  });

  it('embeds by entity through the feature path: equal to embedding the same values, a missing entity a zero row', async () => {
    const rows = irisRows(2).map((r) => r.map((x) => x + 2));
    await put(a, [
      { id: 7001, values: rows[0] as number[] },
      { id: 7002, values: rows[1] as number[] },
    ]);
    const res = await embed(a, { model: 'flower_f32', entities: ids(7001, 9999_001, 7002) });
    expect(res.row_statuses).toEqual([ST.OK, ST.ENTITY_NOT_FOUND, ST.OK]);
    expect(res.row_sources).toEqual([SRC.MODEL, NONE, SRC.MODEL]);
    const [first, missing, last] = vectorsOf(res);
    expect(missing).toEqual(new Array(DIM).fill(0));
    expect([first, last]).toEqual(await reference(rows));
    // The same values by tensor share the entity rows' cache entries.
    expect((await embed(a, byInputs('flower_f32', rows))).row_sources).toEqual([SRC.L1, SRC.L1]);
    expect((await embed(b, { model: 'flower_f32', entities: ids(7002) })).row_sources).toEqual([SRC.L2]);
  });

  it('refuses a model that gives no embedding, an unknown model and bad inputs, naming why', async () => {
    const notEmbedding = await grpcError(embed(a, byInputs('iris', irisRows(1))));
    expect(notEmbedding.code).toBe(status.FAILED_PRECONDITION);
    expect(notEmbedding.details).toMatch(/^E_NOT_AN_EMBEDDING_MODEL: /);
    const unknown = await grpcError(embed(a, byInputs('no_such_model', irisRows(1))));
    expect(unknown.code).toBe(status.NOT_FOUND);
    const badShape = await grpcError(
      embed(a, { model: 'flower_f32', inputs: { features: f32Tensor([1, 3], [1, 2, 3]) } }),
    );
    expect(badShape.code).toBe(status.INVALID_ARGUMENT);
    expect(badShape.details).toMatch(/features/);
    const both = await grpcError(embed(a, { ...byInputs('flower_f32', irisRows(1)), entities: ids(1) }));
    expect(both.code).toBe(status.INVALID_ARGUMENT);
  });

  it('lists each embedding model with its output, width and stored dtype', async () => {
    const res = await a.client.listModels();
    const info = (name: string) =>
      (res.models.find((m) => m.name === name)?.versions[0] as { embedding?: unknown } | undefined)
        ?.embedding;
    expect(info('flower_embedding')).toEqual({ output: 'embedding', dim: DIM, stored_dtype: DT_FLOAT16 });
    expect(info('flower_f32')).toEqual({ output: 'embedding', dim: DIM, stored_dtype: DT_FLOAT32 });
    expect(info('iris') ?? null).toBeNull();
  });

  it('counts rows by source per model', async () => {
    const m = await a.metrics();
    const rows = (source: string) =>
      metricValue(m, 'infercache_embedding_rows_total', { model: 'flower_f32', source });
    expect(rows('model')).toBeGreaterThan(0);
    expect(rows('l1')).toBeGreaterThan(0);
  });
});

describe('GetEmbeddings with float16 storage of a vector float16 cannot hold', () => {
  let dir: string;
  let s: Sidecar;
  const scaled = (x: number) => ({
    model: 'scale',
    inputs: { features: f32Tensor([1, IRIS_FEATURES], [x, -x, x / 2, 1]) },
  });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-embeddings-big-'));
    // embedding = features × 1000, stored as float16: an input of 100 gives
    // components past float16's largest finite value (65504).
    const onnx = encodeModel({
      name: 'scale',
      inputs: [valueInfo('features', DataType.FLOAT, ['N', IRIS_FEATURES])],
      outputs: [valueInfo('embedding', DataType.FLOAT, ['N', IRIS_FEATURES])],
      initializers: [floatTensor('k', [], Float32Array.of(1000))],
      nodes: [node('Mul', ['features', 'k'], ['embedding'])],
    });
    await writeModel(dir, 'scale', 1, {
      onnx,
      meta: { description: 'scales by 1000', embedding: { output: 'embedding', storeAs: 'float16' } },
    });
    s = await startSidecar({ redisUrl: '', modelsDir: dir });
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps such a vector as float32 and counts it, rather than storing infinities', async () => {
    const embed = (req: unknown) => s.client.unary<EmbeddingsResponse>('GetEmbeddings', req);
    const big = await embed(scaled(100));
    expect(big.vectors).toEqual([100_000, -100_000, 50_000, 1000]);
    const again = await embed(scaled(100));
    expect(again.row_sources).toEqual([SRC.L1]);
    expect(again.vectors).toEqual(big.vectors);
    // A vector float16 holds is stored as float16: 1000.1 becomes 1000 (the
    // nearest float16), 500.05 becomes 500.
    const small = await embed(scaled(1.0001));
    expect(small.vectors).toEqual([1000, -1000, 500, 1000]);
    const kept = metricValue(await s.metrics(), 'infercache_embedding_float32_kept_total', {
      model: 'scale',
    });
    expect(kept).toBe(1);
  });
});

describe('GetEmbeddings when model.json changes how a version is stored', () => {
  let dir: string;
  let s: Sidecar;
  const built = buildFlowerEmbeddingModel();
  const storedAs = (storeAs: 'float32' | 'float16') =>
    writeModel(dir, 'flowers', 1, {
      onnx: built.onnx,
      meta: { ...built.meta, embedding: { output: 'embedding', storeAs } },
    });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-embeddings-store-'));
    await storedAs('float32');
    s = await startSidecar({ redisUrl: '', modelsDir: dir, env: { INFERCACHE_MODELS_POLL_MS: '100' } });
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('computes the vectors again for the new dtype: the same file and rows, other entries', async () => {
    const embed = (req: unknown) => s.client.unary<EmbeddingsResponse>('GetEmbeddings', req);
    const rows = irisRows(2);
    const f32 = await embed(byInputs('flowers', rows));
    expect([f32.stored_dtype, f32.row_sources]).toEqual([DT_FLOAT32, [SRC.MODEL, SRC.MODEL]]);
    expect((await embed(byInputs('flowers', rows))).row_sources).toEqual([SRC.L1, SRC.L1]);
    await storedAs('float16');
    await eventually(
      'the version to be reloaded with float16 storage',
      async () =>
        (await embed(byInputs('flowers', irisRows(1)))).stored_dtype === DT_FLOAT16 ? true : undefined,
      30_000,
    );
    const f16 = await embed(byInputs('flowers', rows));
    // Not the float32 entries read by a float16 reader (which takes float32 values).
    expect([f16.stored_dtype, f16.row_sources]).toEqual([DT_FLOAT16, [SRC.MODEL, SRC.MODEL]]);
    expect(f16.vectors).not.toEqual(f32.vectors);
  });
});
