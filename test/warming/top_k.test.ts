import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/prng.js';
import { TopK } from '../../src/warming/top_k.js';

/** The same rule, the slow way: update in place, else enter while there is room or above the least. */
class ReferenceTopK {
  readonly entries = new Map<string, number>();
  constructor(readonly k: number) {}
  offer(key: string, estimate: number): void {
    if (this.entries.has(key) || this.entries.size < this.k) {
      this.entries.set(key, estimate);
      return;
    }
    const [minKey, min] = [...this.entries].reduce((a, b) => (b[1] < a[1] ? b : a));
    if (estimate <= min) return;
    this.entries.delete(minKey);
    this.entries.set(key, estimate);
  }
}

describe('TopK', () => {
  it('keeps the K heaviest keys, highest first, however estimates rise and fall', () => {
    const rand = mulberry32(42);
    const top = new TopK<string>(25);
    const reference = new ReferenceTopK(25);
    // Distinct estimates (random reals), so which key is "the least" is never a tie.
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(rand() ** 3 * 500)}`;
      const estimate = rand() * 100;
      top.offer(key, estimate, () => key);
      reference.offer(key, estimate);
      expect(top.size).toBeLessThanOrEqual(25);
      if (i % 97 === 0 || i === 19_999) {
        const ranked = top.ranked();
        expect(new Map(ranked.map((e) => [e.key, e.estimate]))).toEqual(reference.entries);
        const estimates = ranked.map((e) => e.estimate);
        expect(estimates).toEqual([...estimates].sort((a, b) => b - a));
      }
    }
  });

  it('asks for an entry’s item only when the key enters', () => {
    const top = new TopK<string>(2);
    const made: string[] = [];
    const item = (key: string) => () => {
      made.push(key);
      return `item of ${key}`;
    };
    top.offer('a', 5, item('a'));
    top.offer('b', 3, item('b'));
    top.offer('a', 6, item('a'));
    top.offer('c', 1, item('c'));
    top.offer('c', 4, item('c'));
    expect(made).toEqual(['a', 'b', 'c']);
    expect(top.ranked().map((e) => [e.key, e.estimate, e.item])).toEqual([
      ['a', 6, 'item of a'],
      ['c', 4, 'item of c'],
    ]);
  });

  it('halves every estimate on age(), keeping the order', () => {
    const top = new TopK<number>(3);
    for (const [key, estimate] of [
      ['x', 15],
      ['y', 9],
      ['z', 4],
    ] as const)
      top.offer(key, estimate, () => estimate);
    top.age();
    expect(top.ranked().map((e) => [e.key, e.estimate])).toEqual([
      ['x', 7],
      ['y', 4],
      ['z', 2],
    ]);
    // After aging, a newcomer with a modest estimate can enter again.
    top.offer('w', 3, () => 3);
    expect(top.ranked().map((e) => e.key)).toEqual(['x', 'y', 'w']);
  });

  it('refuses a K that is not a positive integer', () => {
    expect(() => new TopK(0)).toThrow(RangeError);
    expect(() => new TopK(1.5)).toThrow(RangeError);
  });
});
