import { afterEach, describe, expect, it } from 'vitest';
import { WARN } from '../helpers/memory_log.js';
import { emptyModelsDir, installVersion, scaleModel } from '../helpers/model_versions.js';
import { type RegistryHarness, registryHarness } from '../helpers/registry_harness.js';

/** A directory holding `scale` versions 1..n. */
async function versions(n: number): Promise<string> {
  const dir = emptyModelsDir();
  for (let v = 1; v <= n; v++) await installVersion(dir, 'scale', String(v), scaleModel(v));
  return dir;
}

describe('the current version: the fleet choice, the newest, and the versions kept loaded', () => {
  let h: RegistryHarness | undefined;
  afterEach(() => h?.registry.close());

  const started = async (dir: string, keepLoaded = 2) => {
    h = registryHarness(dir, keepLoaded);
    await h.registry.start();
    return h;
  };

  it('keeps the current version and the newest others loaded, and unloads and releases the rest', async () => {
    const { events, states, current } = await started(await versions(4), 2);
    expect(current('scale')).toBe('4');
    expect(states('scale')).toEqual([
      ['4', 'ready'],
      ['3', 'ready'],
      ['2', 'unloaded'],
      ['1', 'unloaded'],
    ]);
    expect(events.filter((e) => e.startsWith('release')).sort()).toEqual(['release 1', 'release 2']);
  });

  it('serves the chosen version, loading it again (with a warm-up) when it was unloaded', async () => {
    const { registry, events, chosen, states, current } = await started(await versions(3), 2);
    expect(states('scale').map(([, s]) => s)).toEqual(['ready', 'ready', 'unloaded']);
    events.length = 0;

    chosen.set('scale', '1');
    await registry.refresh('scale');

    expect(current('scale')).toBe('1');
    // Version 1 warmed before the switch; 3 (newest) stays, 2 makes room.
    expect(events).toEqual(['warmUp 1', 'beforeSwitch 1 from 3', 'release 2', 'changed 1']);
    expect(states('scale')).toEqual([
      ['3', 'ready'],
      ['2', 'unloaded'],
      ['1', 'ready'],
    ]);
    expect(registry.models().get('scale')?.mismatch).toBeUndefined();
  });

  it('with one version kept loaded, an activated old version unloads the newest', async () => {
    const { registry, chosen, states } = await started(await versions(2), 1);
    chosen.set('scale', '1');
    await registry.refresh('scale');
    expect(states('scale')).toEqual([
      ['2', 'unloaded'],
      ['1', 'ready'],
    ]);
  });

  it('reports a chosen version it does not have as a mismatch, keeps its own, and switches once it appears', async () => {
    const dir = await versions(2);
    const { registry, chosen, lines, current } = await started(dir);

    chosen.set('scale', '3');
    await registry.refresh('scale');
    expect(current('scale')).toBe('2');
    expect(registry.models().get('scale')?.mismatch).toBe('3');
    expect(lines).toContainEqual(
      expect.objectContaining({ level: WARN, model: 'scale', chosen: '3', serving: '2' }),
    );

    await installVersion(dir, 'scale', '3', scaleModel(3));
    await registry.rescan();
    expect(current('scale')).toBe('3');
    expect(registry.models().get('scale')?.mismatch).toBeUndefined();
  });

  it('reports a chosen version that failed to load as a mismatch', async () => {
    const dir = await versions(1);
    const { registry, chosen, failWarmUp, current } = await started(dir);
    failWarmUp.add('2');
    await installVersion(dir, 'scale', '2', scaleModel(2));
    chosen.set('scale', '2');
    await registry.rescan();
    expect(current('scale')).toBe('1');
    expect(registry.models().get('scale')?.mismatch).toBe('2');
  });

  it('goes back to the newest ready version when the choice is cleared', async () => {
    const { registry, chosen, current } = await started(await versions(3));
    chosen.set('scale', '2');
    await registry.refresh('scale');
    expect(current('scale')).toBe('2');

    chosen.delete('scale');
    await registry.refresh('scale');
    expect(current('scale')).toBe('3');
  });

  it('adopts a choice already made when it starts', async () => {
    const dir = await versions(3);
    h = registryHarness(dir, 2);
    h.chosen.set('scale', '1');
    await h.registry.start();
    expect(h.current('scale')).toBe('1');
    // The first scan warms nothing: the workers load the current sessions as they start.
    expect(h.events.filter((e) => e.startsWith('warmUp'))).toEqual([]);
    expect(h.states('scale')).toEqual([
      ['3', 'ready'],
      ['2', 'unloaded'],
      ['1', 'ready'],
    ]);
  });
});
