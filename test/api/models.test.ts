import { rm } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelsDir } from '../helpers/fixture_models.js';
import {
  DT,
  f32Of,
  f32Tensor,
  grpcError,
  irisRequest,
  irisRows,
  multiRequest,
  rawOf,
  SRC,
} from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const READY = 1;
const FAILED = 2;

describe('models from a model repository', () => {
  let sidecar: Sidecar;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await fixtureModelsDir();
    sidecar = await startSidecar({ redisUrl: '', modelsDir });
  });
  afterAll(async () => {
    await stopAllSidecars();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('lists every model with its versions and signatures, and the broken one with its error', async () => {
    const { models } = await sidecar.client.listModels();
    expect(models.map((m) => m.name)).toEqual([
      'batchlast',
      'broken',
      'fixed',
      'iris',
      'multi',
      'scalar',
      'strings',
    ]);
    const byName = new Map(models.map((m) => [m.name, m]));

    const iris = byName.get('iris');
    expect(iris?.current_version).toBe('2');
    // The description of the current version: the fixture's iris/2 says so.
    expect(iris?.description).toMatch(/second version/);
    expect(iris?.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(iris?.versions.map((v) => [v.version, v.state])).toEqual([
      ['2', READY],
      ['1', READY],
    ]);
    expect(iris?.versions[0]).toMatchObject({
      inputs: [{ name: 'features', dtype: DT.FLOAT32, dims: ['N', '4'] }],
      outputs: [
        { name: 'probabilities', dtype: DT.FLOAT32, dims: ['N', '3'] },
        { name: 'label', dtype: DT.INT64, dims: ['N'] },
      ],
      row_cacheable: true,
    });

    expect(byName.get('multi')?.versions[0]).toMatchObject({
      inputs: [
        { name: 'a', dtype: DT.FLOAT32, dims: ['N', '3'] },
        { name: 'b', dtype: DT.INT64, dims: ['N', '1'] },
      ],
      outputs: [{ name: 'sum', dtype: DT.FLOAT32, dims: ['N', '3'] }],
      row_cacheable: true,
    });
    expect(byName.get('strings')?.versions[0]).toMatchObject({
      inputs: [{ name: 's', dtype: DT.STRING, dims: ['N'] }],
      row_cacheable: true,
    });
    expect(byName.get('batchlast')?.versions[0]).toMatchObject({
      inputs: [{ name: 'x', dtype: DT.FLOAT32, dims: ['3', 'N'] }],
      row_cacheable: false,
    });
    expect(byName.get('fixed')?.versions[0]).toMatchObject({
      inputs: [{ name: 'x', dtype: DT.FLOAT32, dims: ['1', '4'] }],
      row_cacheable: false,
    });
    expect(byName.get('scalar')?.versions[0]).toMatchObject({ row_cacheable: false });

    const broken = byName.get('broken');
    expect(broken?.current_version).toBe('');
    expect(broken?.versions).toHaveLength(1);
    expect(broken?.versions[0]?.state).toBe(FAILED);
    expect(broken?.versions[0]?.error).toMatch(/protobuf parsing failed/i);
  });

  it('resolves version "" to the newest version, and serves an older one by number with its own keys', async () => {
    const rows = irisRows(2);
    const newest = await sidecar.client.predict(irisRequest(rows));
    expect(newest.version).toBe('2');
    expect(newest.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);

    const v1 = await sidecar.client.predict(irisRequest(rows, { version: '1' }));
    expect(v1.version).toBe('1');
    expect(v1.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    // Same weights, so the same answer; but version 2's cached rows were not used.
    expect(rawOf(v1.outputs.probabilities)).toEqual(rawOf(newest.outputs.probabilities));

    expect((await sidecar.client.predict(irisRequest(rows, { version: '1' }))).row_sources).toEqual([
      SRC.L1,
      SRC.L1,
    ]);
    const v2 = await sidecar.client.predict(irisRequest(rows, { version: '2' }));
    expect(v2.version).toBe('2');
    expect(v2.row_sources).toEqual([SRC.L1, SRC.L1]);
  });

  it('answers a model with several inputs, cached row by row', async () => {
    const a = [
      [1, 2, 3],
      [4.5, 5.5, 6.5],
    ];
    const res = await sidecar.client.predict(multiRequest(a, [10n, -20n]));
    expect(res.row_cached).toBe(true);
    expect(res.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(res.outputs.sum?.shape).toEqual(['2', '3']);
    expect(Array.from(f32Of(res.outputs.sum))).toEqual([11, 12, 13, -15.5, -14.5, -13.5]);

    const swapped = await sidecar.client.predict(multiRequest([a[1] as number[], [7, 8, 9]], [-20n, 0n]));
    expect(swapped.row_sources).toEqual([SRC.L1, SRC.MODEL]);
    expect(Array.from(f32Of(swapped.outputs.sum))).toEqual([-15.5, -14.5, -13.5, 7, 8, 9]);
  });

  it('caches a scalar input whole (row_cached false)', async () => {
    const req = (v: number) => ({ model: 'scalar', inputs: { s: f32Tensor([], [v]) } });
    const first = await sidecar.client.predict(req(21));
    expect(first.row_cached).toBe(false);
    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(first.outputs.double?.shape).toEqual([]);
    expect(Array.from(f32Of(first.outputs.double))).toEqual([42]);

    expect((await sidecar.client.predict(req(21))).row_sources).toEqual([SRC.L1]);
    const other = await sidecar.client.predict(req(-1.5));
    expect(other.row_sources).toEqual([SRC.MODEL]);
    expect(Array.from(f32Of(other.outputs.double))).toEqual([-3]);
  });

  it('caches a model whose batch axis is last whole (row_cached false)', async () => {
    // x is [3, N]; y[n] = sum over the 3 rows of column n.
    const req = { model: 'batchlast', inputs: { x: f32Tensor([3, 2], [1, 10, 2, 20, 3, 30]) } };
    const first = await sidecar.client.predict(req);
    expect(first.row_cached).toBe(false);
    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(first.outputs.y?.shape).toEqual(['2']);
    expect(Array.from(f32Of(first.outputs.y))).toEqual([6, 60]);
    const again = await sidecar.client.predict(req);
    expect(again.row_sources).toEqual([SRC.L1]);
    expect(Array.from(f32Of(again.outputs.y))).toEqual([6, 60]);
  });

  it('caches a model with fixed dimensions whole (row_cached false)', async () => {
    const req = { model: 'fixed', inputs: { x: f32Tensor([1, 4], [1, -2, 0.5, 4]) } };
    const first = await sidecar.client.predict(req);
    expect(first.row_cached).toBe(false);
    expect(first.row_sources).toEqual([SRC.MODEL]);
    expect(Array.from(f32Of(first.outputs.y))).toEqual([3, -6, 1.5, 12]);
    expect((await sidecar.client.predict(req)).row_sources).toEqual([SRC.L1]);
  });

  it('answers a string model row by row, with UTF-8 and empty strings intact', async () => {
    const values = ['héllo', '', 'wörld ✓', 'héllo'];
    const req = (v: string[]) => ({
      model: 'strings',
      inputs: {
        s: { dtype: DT.STRING, shape: [v.length], string_data: v.map((x) => Buffer.from(x, 'utf8')) },
      },
    });
    const first = await sidecar.client.predict(req(values));
    expect(first.row_cached).toBe(true);
    expect(first.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(first.outputs.same?.dtype).toBe(DT.STRING);
    expect(first.outputs.same?.string_data.map((b) => b.toString('utf8'))).toEqual(values);

    const second = await sidecar.client.predict(req(['wörld ✓', 'new', '']));
    expect(second.row_sources).toEqual([SRC.L1, SRC.MODEL, SRC.L1]);
    expect(second.outputs.same?.string_data.map((b) => b.toString('utf8'))).toEqual(['wörld ✓', 'new', '']);
  });

  it('answers UNAVAILABLE with the load error for the model that failed to load', async () => {
    const err = await grpcError(sidecar.client.predict({ model: 'broken', inputs: {} }));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/model "broken" has no version that loaded/);
  });

  it('reports health per model: SERVING for a loaded one, NOT_SERVING for the broken one', async () => {
    expect(await sidecar.client.health('')).toBe('SERVING');
    expect(await sidecar.client.health('infercache.v1.InferCache')).toBe('SERVING');
    expect(await sidecar.client.health('infercache.v1.InferCache/iris')).toBe('SERVING');
    expect(await sidecar.client.health('infercache.v1.InferCache/strings')).toBe('SERVING');
    expect(await sidecar.client.health('infercache.v1.InferCache/broken')).toBe('NOT_SERVING');
    const unknown = await grpcError(sidecar.client.health('infercache.v1.InferCache/nope'));
    expect(unknown.code).toBe(status.NOT_FOUND);
  });
});
