import { xxh64 } from '@node-rs/xxhash';
import { describe, expect, it } from 'vitest';
import { keySampler } from '../../src/cache/key_sampler.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `ic:p:iris:1:g0.0:{${(i % 256).toString(16)}}${i}`);

describe('sampling keys by a hash of the key (SHARDS)', () => {
  it('answers the same for a key on every access: a key is recorded always or never', () => {
    const sampled = keySampler(0.5);
    const first = keys.map(sampled);
    for (let pass = 0; pass < 3; pass++) expect(keys.map(sampled)).toEqual(first);
  });

  it('samples about the rate of the distinct keys', () => {
    for (const rate of [0.5, 0.1, 0.01]) {
      const share = keys.filter((k) => keySampler(rate)(k) !== undefined).length / keys.length;
      // Binomial: five standard deviations either side.
      const sd = Math.sqrt((rate * (1 - rate)) / keys.length);
      expect(Math.abs(share - rate), `rate ${rate}`).toBeLessThan(5 * sd);
    }
  });

  it("gives a sampled key its 64-bit hash, and a lower rate's keys are among a higher rate's", () => {
    const low = keySampler(0.1);
    const high = keySampler(0.5);
    for (const key of keys) {
      const hash = low(key);
      if (hash === undefined) continue;
      expect(hash).toBe(xxh64(key));
      expect(high(key)).toBe(hash);
    }
  });

  it('samples every key at rate 1, and refuses a rate outside (0, 1]', () => {
    const all = keySampler(1);
    expect(keys.every((k) => all(k) !== undefined)).toBe(true);
    for (const rate of [0, -0.1, 1.5, Number.NaN]) expect(() => keySampler(rate)).toThrow(RangeError);
  });
});
