import { describe, expect, it } from 'vitest';
import { keySampler } from '../../src/cache/key_sampler.js';
import { type SimPolicy, simulate } from '../../src/cache/simulator.js';
import { loadTrace, type Trace } from '../../src/cache/trace.js';

const KEYS = 100_000;
const ENTRY_BYTES = 512;
const RATE = 0.1;

/**
 * The accesses of `trace` whose keys the sidecar's sampler keeps (the keys
 * named as L1 names them, under `scope`), with the count of all accesses
 * the recording's last line gives.
 */
function sampleByKey(trace: Trace, scope: string): Trace {
  const sampled = keySampler(RATE);
  const ids = new Map<number, number>();
  const keys: number[] = [];
  const sizes: number[] = [];
  for (const id of trace.keys) {
    let to = ids.get(id);
    if (to === undefined) {
      to = sampled(`${scope}${id}`) === undefined ? -1 : sizes.length;
      ids.set(id, to);
      if (to >= 0) sizes.push(trace.sizes[id] as number);
    }
    if (to >= 0) keys.push(to);
  }
  return {
    name: scope,
    keys: Int32Array.from(keys),
    sizes: Int32Array.from(sizes),
    sampleRate: RATE,
    fullAccesses: trace.keys.length,
  };
}

describe('replaying a trace sampled by key (SHARDS)', () => {
  const full = loadTrace('zipf:0.9', { keys: KEYS, accesses: 1_000_000, entryBytes: ENTRY_BYTES, seed: 7 });
  // Four samples: which of the few hottest keys a sample takes moves its estimate most.
  const samples = ['a', 'b', 'c', 'd'].map((s) => sampleByKey(full, `ic:p:m:1:g0.0:${s}`));
  const l1Sizes = [0.05, 0.1].map((share) => KEYS * ENTRY_BYTES * share);

  it.each<SimPolicy>(['lru', 'tinylfu', 'opt'])(
    '%s: a tenth of the keys in a tenth of each L1 size gives the full hit ratio within 3 points',
    (policy) => {
      for (const capacity of l1Sizes) {
        const truth = simulate(full, policy, capacity).hitRatio;
        for (const sample of samples) {
          const estimate = simulate(sample, policy, capacity);
          expect(estimate.capacityBytes).toBe(capacity);
          expect(estimate.sampleRate).toBe(RATE);
          expect(Math.abs(estimate.hitRatio - truth), `${sample.name}, L1 of ${capacity} bytes`).toBeLessThan(
            0.03,
          );
        }
      }
    },
  );

  it('is far off without the scaling: a sample in the whole L1 overstates the hit ratio', () => {
    const capacity = l1Sizes[0] as number;
    const truth = simulate(full, 'lru', capacity).hitRatio;
    for (const sample of samples) {
      expect(simulate({ ...sample, sampleRate: 1 }, 'lru', capacity).hitRatio - truth).toBeGreaterThan(0.1);
    }
  });

  it('misses by more without the count of all accesses, when a sample took more or fewer hot keys than its share', () => {
    const capacity = l1Sizes[0] as number;
    const truth = simulate(full, 'lru', capacity).hitRatio;
    const error = (s: Trace) => Math.abs(simulate(s, 'lru', capacity).hitRatio - truth);
    const plain = samples.map((s) => error({ ...s, fullAccesses: undefined }));
    const adjusted = samples.map(error);
    expect(Math.max(...plain)).toBeGreaterThan(0.05);
    expect(Math.max(...plain)).toBeGreaterThan(2 * Math.max(...adjusted));
  });
});
