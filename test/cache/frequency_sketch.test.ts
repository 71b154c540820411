import { describe, expect, it } from 'vitest';
import { FrequencySketch } from '../../src/cache/frequency_sketch.js';
import { mulberry32 } from '../../src/prng.js';

/** `n` distinct 32-bit keys, the same on every run. */
function keys(n: number, seed = 1): number[] {
  const rand = mulberry32(seed);
  const out = new Set<number>();
  while (out.size < n) out.add(Math.floor(rand() * 2 ** 32));
  return [...out];
}

describe('FrequencySketch', () => {
  it('estimates how often each key was seen, never less than the truth while below 15', () => {
    const sketch = new FrequencySketch(10_000);
    const all = keys(2000);
    const truth = new Map<number, number>();
    // Key i is seen i % 12 times: 0 to 11 sightings, 11,000 in all (no halving yet).
    all.forEach((k, i) => {
      for (let n = 0; n < i % 12; n++) sketch.increment(k);
      truth.set(k, i % 12);
    });
    let exact = 0;
    for (const [k, count] of truth) {
      const estimate = sketch.frequency(k);
      expect(estimate).toBeGreaterThanOrEqual(count);
      if (estimate === count) exact++;
    }
    // Collisions overestimate some keys; most are exact at this load.
    expect(exact / truth.size).toBeGreaterThan(0.9);
    expect(sketch.frequency(keys(1, 99)[0] as number)).toBe(0);
  });

  it('returns the new estimate from increment', () => {
    const sketch = new FrequencySketch(1000);
    const [k] = keys(1) as [number];
    expect([1, 2, 3].map(() => sketch.increment(k))).toEqual([1, 2, 3]);
    expect(sketch.frequency(k)).toBe(3);
  });

  it('stops each 4-bit counter at 15 instead of wrapping into its neighbour', () => {
    const sketch = new FrequencySketch(100_000);
    const [hot, ...others] = keys(1001) as [number, ...number[]];
    for (let n = 0; n < 40; n++) sketch.increment(hot);
    expect(sketch.frequency(hot)).toBe(15);
    expect(sketch.increment(hot)).toBe(15);
    // A carry out of a saturated counter would show up in the counters beside it.
    expect(Math.max(...others.map((k) => sketch.frequency(k)))).toBe(0);
  });

  it('halves every counter after ten sightings per key of capacity, so popularity fades', () => {
    const sketch = new FrequencySketch(1000);
    const [old, ...fresh] = keys(20_000, 7) as [number, ...number[]];
    for (let n = 0; n < 15; n++) sketch.increment(old);
    let halvings = 0;
    let atHalving: number[] = [];
    const sample = fresh.slice(0, 3000);
    sketch.onHalve(() => {
      halvings++;
      if (halvings === 1) atHalving = [sketch.frequency(old), ...sample.map((k) => sketch.frequency(k))];
    });
    // 10 × capacity counted sightings trigger the first halving (a sighting
    // whose four counters are all at 15 already does not count).
    let sightings = 15;
    while (halvings === 0 && sightings < 100_000)
      sketch.increment(fresh[sightings++ % fresh.length] as number);
    expect(halvings).toBe(1);
    expect(sightings).toBeGreaterThanOrEqual(10_000);
    // The old key's counters were all 15: now 7. No counter is above 7, which
    // a bit shifted across a counter's edge would break.
    expect(atHalving[0]).toBe(7);
    expect(Math.max(...atHalving)).toBeLessThanOrEqual(7);
    // Without sightings the old key keeps fading with each halving.
    for (let i = 0; i < 20_000 && halvings < 3; i++) sketch.increment(fresh[i % fresh.length] as number);
    expect(halvings).toBe(3);
    expect(sketch.frequency(old)).toBeLessThan(7);
  });

  it('holds a fixed amount of memory, set by its capacity, however many keys it sees', () => {
    // Four 4-bit counters per key of capacity (a power of two of them): 2 bytes per key.
    expect(new FrequencySketch(1_000_000).bytes).toBe(2 * 1024 * 1024);
    expect(new FrequencySketch(1000).bytes).toBe(2048);
    const sketch = new FrequencySketch(10_000);
    const before = sketch.bytes;
    for (const k of keys(200_000, 3)) sketch.increment(k);
    expect(sketch.bytes).toBe(before);
    expect(() => new FrequencySketch(0)).toThrow(RangeError);
  });
});

/** Distinct, well-spread 32-bit key hashes. */
const hashOf = (i: number) => Math.imul(i + 1, 0x9e3779b1) >>> 0;

describe('frequency sketch: counters and hashing', () => {
  it('counts each key up to 15', () => {
    const sketch = new FrequencySketch(1024);
    for (let i = 0; i < 20; i++) sketch.increment(hashOf(1));
    for (let i = 0; i < 3; i++) sketch.increment(hashOf(2));
    expect([sketch.frequency(hashOf(1)), sketch.frequency(hashOf(2)), sketch.frequency(hashOf(3))]).toEqual([
      15, 3, 0,
    ]);
  });

  it('seldom credits a key seen once with the counts of the hot keys it shares counters with', () => {
    // As many keys as it is sized for: 300 hot ones seen 10 times, the rest once.
    // Rows hashed alike would credit about 8% of the others with half a hot count.
    const sketch = new FrequencySketch(1024, 1e9);
    for (let round = 0; round < 10; round++) for (let i = 0; i < 300; i++) sketch.increment(hashOf(i));
    for (let i = 300; i < 1024; i++) sketch.increment(hashOf(i));
    let overestimated = 0;
    for (let i = 300; i < 1024; i++) if (sketch.frequency(hashOf(i)) >= 5) overestimated++;
    expect(overestimated).toBeLessThan(724 * 0.02);
  });

  it('halves every count after its sample of increments, so old popularity fades', () => {
    const sketch = new FrequencySketch(64, 100);
    let halvings = 0;
    sketch.onHalve(() => halvings++);
    for (let i = 0; i < 12; i++) sketch.increment(hashOf(1));
    for (let i = 0; i < 87; i++) sketch.increment(hashOf(1000 + i));
    expect([halvings, sketch.frequency(hashOf(1))]).toEqual([0, 12]);
    sketch.increment(hashOf(5000));
    expect([halvings, sketch.frequency(hashOf(1))]).toEqual([1, 6]);
  });
});
