import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WARN } from '../helpers/memory_log.js';
import { metricValue } from '../helpers/metrics.js';
import {
  emptyModelsDir,
  failingRunModel,
  installFiles,
  installVersion,
  modelIn,
  SCALE_WIDTH,
  STATE,
  scaleModel,
  shapelessScaleModel,
  versionStates,
} from '../helpers/model_versions.js';
import { eventually, f32Of, f32Tensor, irisRows } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// Generous: the scan, the load and the warm-up share a loaded 2-core machine.
const WAIT_MS = 60_000;

const scaleRequest = (model: string, rows: number[][], version = '') => ({
  model,
  version,
  inputs: { x: f32Tensor([rows.length, SCALE_WIDTH], rows.flat()) },
});

/** Each value of `rows` times `factor`, as float32. */
const scaled = (rows: number[][], factor: number) => rows.flat().map((v) => Math.fround(v * factor));

describe('hot reload of model versions', { timeout: 180_000 }, () => {
  let dir: string;
  let sidecar: Sidecar;

  beforeAll(async () => {
    dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    await installVersion(dir, 'guarded', '1', scaleModel(1));
    await installVersion(dir, 'shapeless', '1', shapelessScaleModel(1));
    sidecar = await startSidecar({
      redisUrl: '',
      modelsDir: dir,
      env: { INFERCACHE_MODELS_POLL_MS: '200' },
    });
  });
  afterAll(stopAllSidecars);

  const current = async (model: string) => modelIn(await sidecar.client.listModels(), model).current_version;
  const runs = async (model: string) =>
    metricValue(await sidecar.metrics(), 'infercache_inference_duration_seconds_count', { model }) ?? 0;

  it('loads a version copied in, runs it once, then makes it current; the old one still answers by name', async () => {
    const rows = irisRows(3);
    const before = await sidecar.client.predict(scaleRequest('scale', rows));
    expect(before.version).toBe('1');
    expect(Array.from(f32Of(before.outputs.y))).toEqual(scaled(rows, 1));
    const runsBefore = await runs('scale');

    await installVersion(dir, 'scale', '2', scaleModel(2));
    await eventually(
      'scale 2 to become current',
      async () => ((await current('scale')) === '2' ? true : undefined),
      WAIT_MS,
    );

    const listed = modelIn(await sidecar.client.listModels(), 'scale');
    expect(versionStates(listed)).toEqual([
      ['2', STATE.READY],
      ['1', STATE.READY],
    ]);
    expect(listed.description).toBe('scale by 2');
    // Loaded, then one warm-up run on the workers, then the switch.
    const lines = sidecar.logs();
    const loaded = lines.findIndex((l) => l.msg === 'model version loaded' && l.version === '2');
    const switched = lines.findIndex((l) => l.msg === 'model version switched' && l.version === '2');
    expect(loaded).toBeGreaterThanOrEqual(0);
    expect(switched).toBeGreaterThan(loaded);
    expect(lines[switched]).toMatchObject({ model: 'scale', previous: '1' });
    expect((await runs('scale')) - runsBefore).toBe(1);

    const after = await sidecar.client.predict(scaleRequest('scale', rows));
    expect(after.version).toBe('2');
    expect(Array.from(f32Of(after.outputs.y))).toEqual(scaled(rows, 2));
    const old = await sidecar.client.predict(scaleRequest('scale', rows, '1'));
    expect(old.version).toBe('1');
    expect(Array.from(f32Of(old.outputs.y))).toEqual(scaled(rows, 1));
  });

  it('keeps the previous version serving when new ones fail to load or to run, and says why', async () => {
    await installFiles(dir, 'guarded', '2', { 'model.onnx': Buffer.from('not an onnx model') });
    await installFiles(dir, 'guarded', '3', {
      'model.onnx': scaleModel(3).onnx,
      'model.json': JSON.stringify({ description: 'three', colour: 'blue' }),
    });
    // A changed signature ([N, 5]) that loads, but whose every run fails.
    await installVersion(dir, 'guarded', '4', failingRunModel());

    const listed = await eventually(
      'three failed versions of guarded',
      async () => {
        const m = modelIn(await sidecar.client.listModels(), 'guarded');
        return m.versions.length === 4 ? m : undefined;
      },
      WAIT_MS,
    );
    expect(versionStates(listed)).toEqual([
      ['4', STATE.FAILED],
      ['3', STATE.FAILED],
      ['2', STATE.FAILED],
      ['1', STATE.READY],
    ]);
    expect(listed.current_version).toBe('1');
    expect(listed.mismatch).toBe('');
    const errors = listed.versions.map((v) => v.error);
    expect(errors[0]).toMatch(/^warm-up run failed: /);
    expect(errors[1]).toMatch(/colour/);
    expect(errors[2]).toMatch(/protobuf parsing failed/i);

    for (const version of ['2', '3', '4']) {
      await sidecar.waitForLog(
        (l) => l.msg === 'model version failed to load' && l.model === 'guarded' && l.version === version,
        WAIT_MS,
      );
    }
    const metrics = await sidecar.metrics();
    expect(metricValue(metrics, 'infercache_model_versions', { state: 'failed' })).toBe(3);
    expect(await sidecar.client.health('infercache.v1.InferCache/guarded')).toBe('SERVING');

    const rows = irisRows(2);
    const res = await sidecar.client.predict(scaleRequest('guarded', rows));
    expect(res.version).toBe('1');
    expect(Array.from(f32Of(res.outputs.y))).toEqual(scaled(rows, 1));
  });

  it('loads a version whose input declares no shape without a warm-up run, and says so in one WARN line', async () => {
    const runsBefore = await runs('shapeless');
    await installVersion(dir, 'shapeless', '2', shapelessScaleModel(2));
    await eventually(
      'shapeless 2 to become current',
      async () => ((await current('shapeless')) === '2' ? true : undefined),
      WAIT_MS,
    );
    const warned = sidecar
      .logs()
      .filter(
        (l) => l.level === WARN && l.model === 'shapeless' && String(l.msg).startsWith('no warm-up run'),
      );
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ version: '2', input: 'x' });
    // No run was made to warm it up: the first run is the first call's.
    expect(await runs('shapeless')).toBe(runsBefore);
    const rows = irisRows(2);
    const res = await sidecar.client.predict(scaleRequest('shapeless', rows));
    expect(res.version).toBe('2');
    expect(Array.from(f32Of(res.outputs.y))).toEqual(scaled(rows, 2));
    // The version loaded at start had no warm-up either, as every version then: nothing to say.
    expect(sidecar.logs().some((l) => l.model === 'shapeless' && l.version === '1' && l.level === WARN)).toBe(
      false,
    );
  });
});
