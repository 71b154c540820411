import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import {
  emptyModelsDir,
  installVersion,
  modelIn,
  SCALE_WIDTH,
  STATE,
  scaleModel,
  versionStates,
} from '../helpers/model_versions.js';
import { eventually, f32Of, f32Tensor, grpcError, irisRows } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const rows = irisRows(2);
const request = (version: string) => ({
  model: 'scale',
  version,
  inputs: { x: f32Tensor([rows.length, SCALE_WIDTH], rows.flat()) },
});

describe('INFERCACHE_MODEL_VERSIONS_LOADED bounds the versions kept loaded', { timeout: 180_000 }, () => {
  let sidecar: Sidecar;

  beforeAll(async () => {
    const dir = emptyModelsDir();
    for (const v of [1, 2, 3]) await installVersion(dir, 'scale', String(v), scaleModel(v));
    sidecar = await startSidecar({
      redisUrl: '',
      modelsDir: dir,
      env: { INFERCACHE_MODEL_VERSIONS_LOADED: '2' },
    });
  });
  afterAll(stopAllSidecars);

  const listed = async () => modelIn(await sidecar.client.listModels(), 'scale');
  const answers = async (version: string) => {
    const res = await sidecar.client.predict(request(version));
    return { version: res.version, y: Array.from(f32Of(res.outputs.y)) };
  };
  const scaled = (factor: number) => rows.flat().map((v) => Math.fround(v * factor));

  it('unloads the oldest version beyond the bound; a call naming it answers UNAVAILABLE', async () => {
    const m = await listed();
    expect(m.current_version).toBe('3');
    expect(versionStates(m)).toEqual([
      ['3', STATE.READY],
      ['2', STATE.READY],
      ['1', STATE.UNLOADED],
    ]);
    const metrics = await sidecar.metrics();
    expect(metricValue(metrics, 'infercache_model_versions', { state: 'unloaded' })).toBe(1);
    expect(metricValue(metrics, 'infercache_model_versions', { state: 'ready' })).toBe(2);

    const refused = await grpcError(sidecar.client.predict(request('1')));
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.details).toMatch(/version "1" is not loaded/);
    expect(await answers('2')).toEqual({ version: '2', y: scaled(2) });
  });

  it('activating an unloaded version loads it again, and the next oldest makes room', async () => {
    const reply = await sidecar.client.unary('ActivateModel', { model: 'scale', version: '1' });
    expect(reply).toEqual({ model: 'scale', current_version: '1' });
    // Loaded at start, unloaded, and loaded again.
    await eventually('version 1 loaded a second time', async () => {
      const loads = sidecar
        .logs()
        .filter((l) => l.msg === 'model version loaded' && l.model === 'scale' && l.version === '1');
      return loads.length === 2 ? true : undefined;
    });

    const m = await listed();
    expect(m.current_version).toBe('1');
    // The chosen version and the newest other one stay.
    expect(versionStates(m)).toEqual([
      ['3', STATE.READY],
      ['2', STATE.UNLOADED],
      ['1', STATE.READY],
    ]);
    expect(await answers('')).toEqual({ version: '1', y: scaled(1) });
    expect(await answers('3')).toEqual({ version: '3', y: scaled(3) });
    const refused = await grpcError(sidecar.client.predict(request('2')));
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(metricValue(await sidecar.metrics(), 'infercache_model_versions', { state: 'unloaded' })).toBe(1);
  });
});
