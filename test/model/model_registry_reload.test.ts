import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyModelsDir, installFiles, installVersion, scaleModel } from '../helpers/model_versions.js';
import { type RegistryHarness, registryHarness } from '../helpers/registry_harness.js';

describe('the model registry follows its directory without a restart', () => {
  let h: RegistryHarness | undefined;
  afterEach(() => h?.registry.close());

  const started = async (dir: string, keepLoaded = 2) => {
    h = registryHarness(dir, keepLoaded);
    await h.registry.start();
    h.events.length = 0;
    return h;
  };

  it('loads a new version directory on the next scan, warms it up, and only then makes it current', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    const { registry, events, currentAt, current, states } = await started(dir);
    expect(current('scale')).toBe('1');

    await installVersion(dir, 'scale', '2', scaleModel(2));
    await registry.rescan();

    expect(events).toEqual(['warmUp 2', 'beforeSwitch 2 from 1', 'changed 2']);
    // Requests that started meanwhile kept getting version 1.
    expect(currentAt.get('warmUp 2')).toBe('1');
    expect(currentAt.get('beforeSwitch 2 from 1')).toBe('1');
    expect(current('scale')).toBe('2');
    expect(states('scale')).toEqual([
      ['2', 'ready'],
      ['1', 'ready'],
    ]);
  });

  it('replaces the Model object on a switch, so a request holding the old one keeps its version', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    const { registry } = await started(dir);
    const held = registry.models().get('scale');

    await installVersion(dir, 'scale', '2', scaleModel(2));
    await registry.rescan();

    expect(registry.models().get('scale')?.current?.version).toBe('2');
    expect(held?.current?.version).toBe('1');
    expect(held?.versions.map((v) => v.version)).toEqual(['1']);
  });

  it('keeps the previous version current when the new one fails its warm-up run, and says why', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    const { registry, events, failWarmUp, lines, current } = await started(dir);
    failWarmUp.add('2');

    await installVersion(dir, 'scale', '2', scaleModel(2));
    await registry.rescan();

    expect(current('scale')).toBe('1');
    const failed = registry
      .models()
      .get('scale')
      ?.versions.find((v) => v.version === '2');
    expect(failed).toMatchObject({ state: 'failed', error: 'warm-up run failed: the run failed' });
    // The session the warm-up created in the workers is not kept for a version that never serves.
    expect(events).toEqual(['warmUp 2', 'release 2', 'changed 1']);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'model version failed to load', model: 'scale', version: '2' }),
    );
  });

  it('fails a version with a corrupt model.onnx or an unknown model.json key, and the previous one serves', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    const { registry, events, current, states } = await started(dir);

    await installFiles(dir, 'scale', '2', { 'model.onnx': Buffer.from('not an onnx model') });
    const good = scaleModel(3);
    await installFiles(dir, 'scale', '3', {
      'model.onnx': good.onnx,
      'model.json': JSON.stringify({ description: 'x', colour: 'blue' }),
    });
    await registry.rescan();

    expect(current('scale')).toBe('1');
    expect(states('scale')).toEqual([
      ['3', 'failed'],
      ['2', 'failed'],
      ['1', 'ready'],
    ]);
    const errors = registry
      .models()
      .get('scale')
      ?.versions.map((v) => ('error' in v ? v.error : ''));
    expect(errors?.[0]).toMatch(/colour/);
    expect(errors?.[1]).toMatch(/protobuf parsing failed/i);
    // Neither ran a warm-up, nor was there a switch to warm for.
    expect(events).toEqual(['changed 1']);
  });

  it('loads a version again when its model.onnx changes, and serves it once it is fixed', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    await installFiles(dir, 'scale', '2', { 'model.onnx': Buffer.from('truncated') });
    const { registry, current } = await started(dir);
    expect(current('scale')).toBe('1');

    await writeFile(join(dir, 'scale', '2', 'model.onnx'), scaleModel(2).onnx);
    await registry.rescan();
    expect(current('scale')).toBe('2');
  });

  it('never loads a staging directory `<version>.tmp`: only the renamed one', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    const { registry, states, current } = await started(dir);

    // An operator's copy caught half way: model.onnx written, not yet renamed.
    const staging = join(dir, 'scale', '2.tmp');
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'model.onnx'), scaleModel(2).onnx);
    await registry.rescan();

    expect(states('scale')).toEqual([['1', 'ready']]);
    expect(current('scale')).toBe('1');
  });

  it('orders versions numerically: 10 is newer than 9', async () => {
    const dir = emptyModelsDir();
    await installVersion(dir, 'scale', '9', scaleModel(9));
    await installVersion(dir, 'scale', '10', scaleModel(10));
    const { current, states } = await started(dir);
    expect(current('scale')).toBe('10');
    expect(states('scale').map(([v]) => v)).toEqual(['10', '9']);
  });
});
