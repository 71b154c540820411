import { rm } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDirect, runDirectF32, shippedModelPath } from '../helpers/direct_model.js';
import { fixtureModelsDir } from '../helpers/fixture_models.js';
import { metricValue } from '../helpers/metrics.js';
import {
  f32FromBytes,
  f32Of,
  HEAVY_IN,
  HEAVY_OUT,
  heavyRequest,
  heavyRows,
  IRIS_CLASSES,
  IRIS_FEATURES,
  i64Of,
  irisRequest,
  irisRows,
  multiRequest,
  rawOf,
  SRC,
} from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('Predict caches rows', () => {
  let sidecar: Sidecar;
  let iris: InferenceSession;
  let heavy: InferenceSession;

  beforeAll(async () => {
    [sidecar, iris, heavy] = await Promise.all([
      startSidecar({ redisUrl: sharedRedisUrl() }),
      openDirect(shippedModelPath('iris')),
      openDirect(shippedModelPath('heavy')),
    ]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await Promise.all([iris?.release(), heavy?.release()]);
  });

  it('serves a repeated row from L1 with the same output bytes', async () => {
    const rows = irisRows(1);
    const first = await sidecar.client.predict(irisRequest(rows));
    const second = await sidecar.client.predict(irisRequest(rows));

    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(second.row_sources).toEqual([SRC.L1]);
    expect(first.row_cached).toBe(true);
    expect(first.model).toBe('iris');
    expect(first.version).toBe('1');
    expect(rawOf(second.outputs.probabilities)).toEqual(rawOf(first.outputs.probabilities));
    expect(rawOf(second.outputs.label)).toEqual(rawOf(first.outputs.label));
    expect(first.outputs.probabilities?.shape).toEqual(['1', String(IRIS_CLASSES)]);
  });

  it('answers a batch of hits and misses, in order, bit-exactly as onnxruntime runs the whole batch (iris)', async () => {
    const [a, b, c, d, e] = irisRows(5) as [number[], number[], number[], number[], number[]];
    await sidecar.client.predict(irisRequest([a, b]));

    const batch = [c, a, d, b, e];
    const res = await sidecar.client.predict(irisRequest(batch));
    expect(res.row_sources).toEqual([SRC.MODEL, SRC.L1, SRC.MODEL, SRC.L1, SRC.MODEL]);

    const direct = await runDirectF32(iris, 'features', [batch.length, IRIS_FEATURES], batch.flat());
    expect(rawOf(res.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(res.outputs.label)).toEqual(direct.label);
    expect(res.outputs.label?.shape).toEqual(['5']);
  });

  it('answers a batch larger than one hashing slice, all in L1, from L1 in order, bit-exactly as onnxruntime runs it', async () => {
    // 300 rows: past the 128 hashed without a yield, so not the synchronous answer of a small hit.
    const rows = irisRows(300);
    const first = await sidecar.client.predict(irisRequest(rows));
    expect(first.row_sources).toEqual(new Array(300).fill(SRC.MODEL));
    const shuffled = rows.map((_, i) => rows[(i * 7) % 300] as number[]);
    const res = await sidecar.client.predict(irisRequest(shuffled));
    expect(res.row_sources).toEqual(new Array(300).fill(SRC.L1));
    const direct = await runDirectF32(iris, 'features', [300, IRIS_FEATURES], shuffled.flat());
    expect(rawOf(res.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(res.outputs.label)).toEqual(direct.label);
    expect(res.outputs.label?.shape).toEqual(['300']);
  });

  it('answers a batch of hits and misses, in order, as onnxruntime runs the whole batch, within 1e-5 (heavy)', async () => {
    // Tolerance, not bit-exactness: cached rows were computed in other
    // batches, and the batch size changes how onnxruntime blocks the GEMMs
    // (and so the float summation order). Each value must be within
    // abs 1e-5 + rel 1e-5 of the whole-batch run.
    const primed = heavyRows(3);
    await sidecar.client.predict(heavyRequest(primed));
    const fresh = heavyRows(4);
    const row = (data: Float32Array, i: number) => data.subarray(i * HEAVY_IN, (i + 1) * HEAVY_IN);
    const order: Float32Array[] = [
      row(fresh, 0),
      row(primed, 1),
      row(fresh, 1),
      row(primed, 0),
      row(fresh, 2),
      row(fresh, 3),
      row(primed, 2),
    ];
    const batch = new Float32Array(order.length * HEAVY_IN);
    for (const [i, r] of order.entries()) batch.set(r, i * HEAVY_IN);

    const res = await sidecar.client.predict(heavyRequest(batch));
    const { MODEL: M, L1 } = SRC;
    expect(res.row_sources).toEqual([M, L1, M, L1, M, M, L1]);
    expect(res.outputs.y?.shape).toEqual([String(order.length), String(HEAVY_OUT)]);

    const direct = await runDirectF32(heavy, 'x', [order.length, HEAVY_IN], batch);
    const want = f32FromBytes(direct.y as Buffer);
    const got = f32Of(res.outputs.y);
    expect(got.length).toBe(want.length);
    const bad: string[] = [];
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as number;
      const g = got[i] as number;
      if (!(Math.abs(g - w) <= 1e-5 + 1e-5 * Math.abs(w)))
        bad.push(`[${Math.floor(i / HEAVY_OUT)}, ${i % HEAVY_OUT}] ${g} vs ${w}`);
    }
    expect(bad).toEqual([]);
  });

  it('runs a row repeated within one batch once and answers it at every position', async () => {
    const [e, f] = irisRows(2) as [number[], number[]];
    const rowsRun = async () =>
      metricValue(await sidecar.metrics(), 'infercache_inference_batch_rows_sum', { model: 'iris' }) ?? 0;
    const before = await rowsRun();

    const batch = [e, e, f, e, f];
    const res = await sidecar.client.predict(irisRequest(batch));
    expect(res.row_sources).toEqual(new Array(5).fill(SRC.MODEL));
    expect((await rowsRun()) - before).toBe(2);

    const direct = await runDirectF32(iris, 'features', [batch.length, IRIS_FEATURES], batch.flat());
    expect(rawOf(res.outputs.probabilities)).toEqual(direct.probabilities);
    expect(rawOf(res.outputs.label)).toEqual(direct.label);
    const labels = i64Of(res.outputs.label);
    expect([labels[1], labels[3]]).toEqual([labels[0], labels[0]]);

    const again = await sidecar.client.predict(irisRequest([f, e]));
    expect(again.row_sources).toEqual([SRC.L1, SRC.L1]);
  });

  it('gives raw bytes and typed float_data of the same values one cache entry', async () => {
    const rows = irisRows(2);
    const raw = await sidecar.client.predict(irisRequest(rows, { form: 'raw' }));
    const typed = await sidecar.client.predict(irisRequest(rows, { form: 'typed' }));
    expect(raw.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(typed.row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(rawOf(typed.outputs.probabilities)).toEqual(rawOf(raw.outputs.probabilities));

    // And the other way round: typed first, raw second.
    const rows2 = irisRows(1);
    expect((await sidecar.client.predict(irisRequest(rows2, { form: 'typed' }))).row_sources).toEqual([
      SRC.MODEL,
    ]);
    expect((await sidecar.client.predict(irisRequest(rows2, { form: 'raw' }))).row_sources).toEqual([SRC.L1]);
  });

  it('keys -0 and +0 alike', async () => {
    const [row] = irisRows(1) as [number[]];
    const negative = [-0, ...row.slice(1)];
    const positive = [0, ...row.slice(1)];
    expect(Object.is(Float32Array.from(negative)[0], -0)).toBe(true);
    const first = await sidecar.client.predict(irisRequest([negative]));
    const second = await sidecar.client.predict(irisRequest([positive]));
    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(second.row_sources).toEqual([SRC.L1]);
    expect(rawOf(second.outputs.probabilities)).toEqual(rawOf(first.outputs.probabilities));
  });

  it('keys two different NaN bit patterns alike', async () => {
    const [row] = irisRows(1) as [number[]];
    const withNaN = (bits: number) => {
      const buf = Buffer.alloc(IRIS_FEATURES * 4);
      buf.writeUInt32LE(bits, 0);
      for (const [j, v] of row.slice(1).entries()) buf.writeFloatLE(v, 4 * (j + 1));
      return { model: 'iris', inputs: { features: { dtype: 1, shape: [1, IRIS_FEATURES], raw: buf } } };
    };
    // The quiet NaN, and a negative NaN with a payload.
    const first = await sidecar.client.predict(withNaN(0x7fc00000));
    const second = await sidecar.client.predict(withNaN(0xffa00001));
    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(second.row_sources).toEqual([SRC.L1]);
    expect(rawOf(second.outputs.probabilities)).toEqual(rawOf(first.outputs.probabilities));
  });
});

describe('Predict keys a model with several inputs', () => {
  let sidecar: Sidecar;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await fixtureModelsDir();
    sidecar = await startSidecar({ redisUrl: sharedRedisUrl(), modelsDir });
  });
  afterAll(async () => {
    await stopAllSidecars();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('keys inputs the same whatever order the request map lists them in', async () => {
    const a = [
      [0.25, 1.5, -3],
      [8, 9, 10],
    ];
    const b = [3n, -1n];
    const first = await sidecar.client.predict(multiRequest(a, b, { order: 'ab' }));
    const second = await sidecar.client.predict(multiRequest(a, b, { order: 'ba' }));
    expect(first.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(second.row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(rawOf(second.outputs.sum)).toEqual(rawOf(first.outputs.sum));
    expect(Array.from(f32Of(first.outputs.sum))).toEqual([3.25, 4.5, 0, 7, 8, 9]);
  });

  it('keys rows by every input: the same a with a different b is a miss', async () => {
    const a = [[1, 1, 1]];
    await sidecar.client.predict(multiRequest(a, [1n]));
    const other = await sidecar.client.predict(multiRequest(a, [2n], { order: 'ba' }));
    expect(other.row_sources).toEqual([SRC.MODEL]);
    expect(Array.from(f32Of(other.outputs.sum))).toEqual([3, 3, 3]);
  });
});
