import { rm } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PredictRequest, TensorInput } from '../helpers/client.js';
import { fixtureModelsDir } from '../helpers/fixture_models.js';
import { metricValue } from '../helpers/metrics.js';
import {
  DT,
  f32Raw,
  f32Tensor,
  grpcError,
  irisRequest,
  irisRows,
  multiRequest,
  SRC,
} from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const MAX_BATCH_ROWS = 8;
const MAX_MESSAGE_BYTES = 4096;

describe('Predict refuses bad input and keeps serving', () => {
  let sidecar: Sidecar;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await fixtureModelsDir();
    sidecar = await startSidecar({
      redisUrl: '',
      modelsDir,
      env: {
        INFERCACHE_MAX_BATCH_ROWS: String(MAX_BATCH_ROWS),
        INFERCACHE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      },
    });
  });
  afterAll(async () => {
    await stopAllSidecars();
    await rm(modelsDir, { recursive: true, force: true });
  });

  const refused = (req: PredictRequest) => grpcError(sidecar.client.predict(req));
  const iris = (features: TensorInput, extra: Record<string, TensorInput> = {}): PredictRequest => ({
    model: 'iris',
    inputs: { features, ...extra },
  });
  const goodFeatures = () => f32Tensor([1, 4], irisRows(1).flat());

  it('answers NOT_FOUND for an unknown model, naming it and the loaded ones', async () => {
    const err = await refused({ model: 'nope', inputs: { features: goodFeatures() } });
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/unknown model "nope"/);
    expect(err.details).toMatch(/iris/);
  });

  it('answers NOT_FOUND for an unknown version, listing the versions there are', async () => {
    const err = await refused({ ...iris(goodFeatures()), version: '7' });
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/no version "7"/);
    expect(err.details).toMatch(/versions: 2, 1/);
  });

  it('answers INVALID_ARGUMENT naming a missing input and its expected type', async () => {
    const err = await refused({ model: 'iris', inputs: {} });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/missing input "features": expected float32 \[N, 4\]/);
  });

  it('answers INVALID_ARGUMENT naming an extra input and the inputs the model has', async () => {
    const err = await refused(iris(goodFeatures(), { bogus: goodFeatures() }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/no input "bogus" \(inputs: features\)/);
  });

  it('answers INVALID_ARGUMENT for the wrong dtype, naming the input and the expected dtype', async () => {
    const err = await refused(iris({ dtype: DT.FLOAT64, shape: [1, 4], double_data: [5.1, 3.5, 1.4, 0.2] }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "features": dtype float64 given, expected float32 \[N, 4\]/);
  });

  it('answers INVALID_ARGUMENT for the wrong rank, naming the input and the expected shape', async () => {
    const err = await refused(iris(f32Tensor([4], [5.1, 3.5, 1.4, 0.2])));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "features": shape \[4\] given, expected float32 \[N, 4\]/);
  });

  it('answers INVALID_ARGUMENT for a wrong fixed dimension, naming the axis and the expected size', async () => {
    const err = await refused(iris(f32Tensor([1, 5], [5.1, 3.5, 1.4, 0.2, 9])));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "features": axis 1 is 5, expected 4/);
  });

  it('answers INVALID_ARGUMENT when raw bytes do not match the shape', async () => {
    const err = await refused(iris({ dtype: DT.FLOAT32, shape: [2, 4], raw: f32Raw([5.1, 3.5, 1.4, 0.2]) }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "features": 16 bytes given, shape \[2, 4\] of float32 needs 32/);
  });

  it('answers INVALID_ARGUMENT when the typed value count does not match the shape', async () => {
    const err = await refused(iris(f32Tensor([2, 4], [5.1, 3.5, 1.4, 0.2], 'typed')));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "features": 4 values given, shape \[2, 4\] needs 8/);
  });

  it('answers INVALID_ARGUMENT when data comes in two forms at once', async () => {
    const values = [5.1, 3.5, 1.4, 0.2];
    const err = await refused(
      iris({ dtype: DT.FLOAT32, shape: [1, 4], raw: f32Raw(values), float_data: values }),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(
      /input "features": data given in several fields \(float_data, raw\); use one/,
    );
  });

  it('answers INVALID_ARGUMENT when inputs disagree on the batch size, naming both inputs', async () => {
    const req = multiRequest(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [7n],
    );
    const err = await refused(req);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "b": axis 0 \(N\) is 1 but input "a" has N=2/);
  });

  it('answers RESOURCE_EXHAUSTED for more rows than INFERCACHE_MAX_BATCH_ROWS, stating the limit', async () => {
    const err = await refused(irisRequest(irisRows(MAX_BATCH_ROWS + 1)));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(new RegExp(`${MAX_BATCH_ROWS + 1} rows; the limit is ${MAX_BATCH_ROWS}\\b`));
    // At the limit is fine.
    const ok = await sidecar.client.predict(
      irisRequest(irisRows(MAX_BATCH_ROWS), { cache: { bypass: true } }),
    );
    expect(ok.row_sources).toHaveLength(MAX_BATCH_ROWS);
  });

  it('answers RESOURCE_EXHAUSTED for a message larger than INFERCACHE_MAX_MESSAGE_BYTES', async () => {
    // Two rows of the strings model: within the row limit, but ~6 KB on the wire.
    const big = {
      dtype: DT.STRING,
      shape: [2],
      string_data: [Buffer.alloc(3000, 'x'), Buffer.alloc(3000, 'y')],
    };
    const err = await refused({ model: 'strings', inputs: { s: big } });
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(new RegExp(`larger than max \\(\\d+ vs\\.? ${MAX_MESSAGE_BYTES}\\)`));
  });

  it('still serves after all of it, and cached nothing from the refused calls', async () => {
    const body = await sidecar.metrics();
    expect(metricValue(body, 'infercache_l1_entries')).toBe(0);
    expect(
      metricValue(body, 'infercache_requests_total', { method: 'Predict', code: 'INVALID_ARGUMENT' }),
    ).toBe(9);
    expect(metricValue(body, 'infercache_requests_total', { method: 'Predict', code: 'NOT_FOUND' })).toBe(2);
    expect(await sidecar.client.health('')).toBe('SERVING');

    const rows = irisRows(2);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(metricValue(await sidecar.metrics(), 'infercache_l1_entries')).toBe(2);
  });
});
