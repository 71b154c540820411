import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/cache/trace.js';

const O = { keys: 1000, accesses: 20_000, entryBytes: 64, seed: 3 };

function counts(keys: Int32Array): Map<number, number> {
  const seen = new Map<number, number>();
  for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  return seen;
}

describe('access traces', () => {
  it('draws Zipf keys from the popular set, the first rank most often', () => {
    const t = loadTrace('zipf:1.0', O);
    const c = counts(t.keys);
    expect(Math.max(...c.keys())).toBeLessThan(O.keys);
    expect(c.get(0)).toBe(Math.max(...c.values()));
    expect([t.keys.length, t.sizes[0]]).toEqual([O.accesses, 64]);
  });

  it('mixes scans into Zipf: about half the accesses go to keys used once', () => {
    const c = counts(loadTrace('scan:1.0', O).keys);
    const once = [...c.entries()].filter(([k, n]) => k >= O.keys && n === 1).length;
    expect(once).toBe(O.accesses / 2);
  });

  it('moves the popular keys of a shifting Zipf trace', () => {
    const t = loadTrace('shift:1.0', O);
    const first = counts(t.keys.subarray(0, O.accesses / 10));
    const last = counts(t.keys.subarray(O.accesses - O.accesses / 10));
    const top = (c: Map<number, number>) => [...c.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    expect(top(first)).toBe(0);
    expect(top(last)).not.toBe(0);
  });

  it('cycles a loop over its keys', () => {
    const t = loadTrace('loop', { ...O, keys: 3, accesses: 7 });
    expect(Array.from(t.keys)).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });
});
