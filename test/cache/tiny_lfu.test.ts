import { describe, expect, it } from 'vitest';
import { lruStore } from '../../src/cache/bounded_store.js';
import { TinyLfuStore } from '../../src/cache/tiny_lfu.js';

const V = {};
const DAY = 86_400_000;

/** A store with a clock the test moves, and its eviction count. */
function store(maxBytes: number) {
  const clock = { now: 0 };
  let evictions = 0;
  const s = new TinyLfuStore<object>({ maxBytes, now: () => clock.now, onEvict: () => evictions++ });
  return { s, clock, evictions: () => evictions };
}

/** A fixed pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

describe('W-TinyLFU store', () => {
  it('keeps a frequent set through a scan of one-time keys that flushes plain LRU', () => {
    const tiny = store(100 * 100).s;
    const lru = lruStore<object>({ maxBytes: 100 * 100 });
    const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`);
    for (const s of [tiny, lru]) {
      // Filled once before, as a running cache is.
      for (let i = 0; i < 300; i++) s.set(`before${i}`, V, 100, DAY);
      for (let round = 0; round < 5; round++) {
        for (const key of hot) if (s.get(key) === undefined) s.set(key, V, 100, DAY);
      }
      // 1,000 keys seen once: ten times what the store holds.
      for (let i = 0; i < 1000; i++) if (s.get(`scan${i}`) === undefined) s.set(`scan${i}`, V, 100, DAY);
    }
    expect(hot.filter((k) => tiny.get(k) !== undefined)).toEqual(hot);
    expect(hot.filter((k) => lru.get(k) !== undefined)).toEqual([]);
  });

  it('lets a newcomer in once it is asked for more often than what it would displace', () => {
    const { s } = store(10 * 100);
    for (let i = 0; i < 10; i++) s.set(`old${i}`, V, 100, DAY);
    // Once: refused in favour of entries seen as often.
    s.set('new', V, 100, DAY);
    s.set('filler', V, 100, DAY);
    expect(s.get('new')).toBeUndefined();
    for (let i = 0; i < 3; i++) s.set('new', V, 100, DAY);
    s.set('filler2', V, 100, DAY);
    expect(s.get('new')).toBeDefined();
  });

  it('never holds more bytes than its bound, and counts exactly what it holds, whatever the sizes and order', () => {
    const { s, clock } = store(10_000);
    const rand = random(7);
    const held = new Map<string, number>();
    for (let i = 0; i < 50_000; i++) {
      clock.now += rand() < 0.01 ? 40 : 0;
      const key = `k${Math.floor(rand() ** 2 * 400)}`;
      const op = rand();
      if (op < 0.45) s.get(key);
      else if (op < 0.95) {
        const size = 1 + Math.floor(rand() * 1500);
        s.set(key, V, size, 1 + Math.floor(rand() * 500));
        held.set(key, size);
      } else if (op < 0.995) s.delete(key);
      else s.clear();
      expect(s.bytes).toBeLessThanOrEqual(10_000);
      if (i % 97 === 0) {
        let sum = 0;
        for (const k of s.keys()) sum += held.get(k) as number;
        expect(s.bytes).toBe(sum);
      }
    }
  });

  it('refuses an entry larger than its bound and drops what the key held', () => {
    const { s, evictions } = store(1000);
    s.set('a', V, 400, DAY);
    s.set('b', V, 400, DAY);
    s.set('b', V, 1001, DAY);
    expect(s.get('b')).toBeUndefined();
    expect(s.get('a')).toBeDefined();
    expect(s.bytes).toBe(400);
    expect(evictions()).toBe(0);
  });

  it('forgets each entry after its own lifetime, and reports the time each has left', () => {
    const { s, clock } = store(10_000);
    s.set('short', V, 10, 30);
    s.set('long', V, 10, 60_000);
    expect([...s.entries()].map(([k, , left]) => [k, left])).toEqual([
      ['short', 30],
      ['long', 60_000],
    ]);
    clock.now = 29;
    expect(s.get('short')).toBeDefined();
    clock.now = 30;
    expect(s.get('short')).toBeUndefined();
    expect(s.get('long')).toBeDefined();
    expect(s.bytes).toBe(10);
  });

  it('makes room with expired entries, even frequent ones, before it refuses a newcomer or drops a live one', () => {
    const { s, clock } = store(10 * 100);
    for (let i = 0; i < 10; i++) s.set(`k${i}`, V, 100, i < 5 ? 10 : DAY);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 10; i++) s.get(`k${i}`);
    clock.now = 20;
    for (let i = 0; i < 5; i++) s.set(`new${i}`, V, 100, DAY);
    for (let i = 5; i < 10; i++) expect(s.get(`k${i}`)).toBeDefined();
    for (let i = 0; i < 5; i++) expect(s.get(`new${i}`)).toBeDefined();
  });

  it('frees the bytes of deleted and cleared entries and serves them no more', () => {
    const { s, evictions } = store(1000);
    for (let i = 0; i < 5; i++) s.set(`k${i}`, V, 100, DAY);
    for (let i = 0; i < 5; i++) s.get(`k${i}`);
    expect(s.delete('k1')).toBe(true);
    expect(s.delete('k1')).toBe(false);
    expect(s.get('k1')).toBeUndefined();
    expect([s.size, s.bytes]).toEqual([4, 400]);
    s.clear();
    expect([s.size, s.bytes, s.get('k2')]).toEqual([0, 0, undefined]);
    // Empty again: a full load fits without evicting anything.
    for (let i = 0; i < 10; i++) s.set(`n${i}`, V, 100, DAY);
    expect([s.size, s.bytes, evictions()]).toEqual([10, 1000, 0]);
  });

  it('takes the new size and lifetime of a replaced value', () => {
    const { s, clock } = store(1000);
    s.set('a', V, 100, 10);
    s.set('a', { v: 2 }, 300, 50);
    expect(s.bytes).toBe(300);
    clock.now = 20;
    expect(s.get('a')).toEqual({ v: 2 });
  });

  it('counts entries dropped for room (refused newcomers included), not deletes or replacements', () => {
    const { s, evictions } = store(500);
    for (let i = 0; i < 5; i++) s.set(`k${i}`, V, 100, DAY);
    s.set('k0', V, 100, DAY);
    s.delete('k1');
    expect(evictions()).toBe(0);
    for (let i = 5; i < 12; i++) s.set(`k${i}`, V, 100, DAY);
    expect(s.size).toBe(5);
    expect(evictions()).toBe(12 - 1 - 5);
  });

  it('counts reads as well as writes: an entry read often is not displaced by one written a few times', () => {
    const { s } = store(100);
    s.set('read', V, 100, DAY);
    for (let i = 0; i < 5; i++) s.get('read');
    for (let i = 0; i < 3; i++) s.set('written', V, 100, DAY);
    expect([s.get('read') !== undefined, s.get('written')]).toEqual([true, undefined]);
  });

  it('protects an entry read again since it was let in: newcomers displace entries on probation first', () => {
    const { s } = store(500);
    for (let i = 0; i < 5; i++) s.set(`k${i}`, V, 100, DAY);
    s.get('k0');
    // Each newcomer is written three times: seen more often than the entries seen once.
    for (let n = 0; n < 5; n++) for (let i = 0; i < 3; i++) s.set(`new${n}`, V, 100, DAY);
    expect(s.get('k0')).toBeDefined();
    expect(['k1', 'k2', 'k3', 'k4'].filter((k) => s.get(k) !== undefined)).toEqual([]);
  });

  it('protects at most 80% of the main part: entries once read again go back on probation and can be displaced', () => {
    const { s } = store(1000);
    for (let i = 0; i < 10; i++) s.set(`k${i}`, V, 100, DAY);
    for (let i = 0; i < 10; i++) s.get(`k${i}`);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) s.set(`new${n}`, V, 100, DAY);
    expect([s.get('new0') !== undefined, s.get('new1') !== undefined]).toEqual([true, true]);
    expect(s.size).toBe(10);
  });
});
