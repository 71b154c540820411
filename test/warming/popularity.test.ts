import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/ops/metrics.js';
import { mulberry32 } from '../../src/prng.js';
import { Popularity } from '../../src/warming/popularity.js';

const hashOf = (n: number) => (Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(16).padStart(32, '0');

describe('Popularity', () => {
  it('ranks a lookup of many entities exactly as the same entities looked up one per call', () => {
    const rand = mulberry32(9);
    const one = new Popularity({ capacity: 4096, topK: 20 }, createMetrics().warming);
    const many = new Popularity({ capacity: 4096, topK: 20 }, createMetrics().warming);
    for (let call = 0; call < 300; call++) {
      // A skewed batch: low entity numbers come up far more often, some twice in one call.
      const ids = Array.from({ length: 50 }, () => Math.floor(rand() ** 3 * 400));
      const hashes = ids.map(hashOf);
      for (const [i, hash] of hashes.entries()) one.seenAll('v', [hash], () => [String(ids[i])]);
      many.seenAll('v', hashes, (i) => [String(ids[i])]);
    }
    const top = many.top('v', 20);
    expect(top).toEqual(one.top('v', 20));
    expect(top.length).toBe(20);
    // The values are each entry's own entity's: values(i) was given the entity's row.
    expect(top.map((e) => e.values[0])).toContain('0');
  });

  it('asks for the join values of an entity only when it enters the top-K, giving its row', () => {
    const popularity = new Popularity({ capacity: 4096, topK: 2 }, createMetrics().warming);
    const asked: number[] = [];
    const values = (i: number) => {
      asked.push(i);
      return [`row${i}`];
    };
    popularity.seenAll('v', [hashOf(1), hashOf(2)], values);
    // Both entered; seen again, they move but are not asked for again; a third ties the least and stays out.
    popularity.seenAll('v', [hashOf(2), hashOf(1), hashOf(3)], values);
    expect(asked).toEqual([0, 1]);
    expect(
      popularity
        .top('v', 2)
        .map((e) => e.values[0])
        .sort(),
    ).toEqual(['row0', 'row1']);
    // Views are apart: the same hash in another view is another entity.
    popularity.seenAll('w', [hashOf(1)], values);
    expect(asked).toEqual([0, 1, 0]);
  });
});
