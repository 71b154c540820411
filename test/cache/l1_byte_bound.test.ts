import { describe, expect, it } from 'vitest';
import { ArenaStore } from '../../src/cache/arena_store.js';
import {
  type BoundedStore,
  heapStore,
  type KindStore,
  type L1Policy,
  lruStore,
  type StoreOptions,
} from '../../src/cache/bounded_store.js';
import { TinyLfuStore } from '../../src/cache/tiny_lfu.js';
import { type Blob, blobKind } from '../helpers/blob_kind.js';

// The bound L1 promises for every store: what it counts, and what it holds, within 2% of its bound.
const SLACK = 1.02;
const MINUTE = 60_000;
const kind = blobKind({ id: 'p' });

interface Subject {
  readonly store: KindStore;
  /** What the store holds in memory: the arena's slabs, or (kept as objects) the charge of every value held. */
  readonly held: () => number;
  readonly evictions: () => number;
}

function subject(layout: 'heap' | 'arena', policy: L1Policy, maxBytes: number): Subject {
  let evictions = 0;
  const options = { maxBytes, onEvict: () => evictions++ };
  const make = <V extends {}>(o: StoreOptions<V>): BoundedStore<V> =>
    policy === 'tinylfu' ? new TinyLfuStore<V>(o) : lruStore<V>(o);
  if (layout === 'arena') {
    const store = new ArenaStore(make, options);
    return { store, held: () => store.reservedBytes, evictions: () => evictions };
  }
  const store = heapStore(make<object>(options));
  return { store, held: () => recount(store), evictions: () => evictions };
}

/** The charge of every entry held, counted from the entries themselves rather than read from the store's total. */
function recount(store: KindStore): number {
  let bytes = 0;
  for (const [key, value] of store.entries()) bytes += store.charge(kind, key, value as Blob);
  return bytes;
}

/** Values by length, made once: what the stores hold is the question here, not how blobs are made. */
const values = new Map<number, Blob>();
function value(length: number): Blob {
  let v = values.get(length);
  if (v === undefined) {
    v = { time: Date.now(), data: Buffer.alloc(length, length & 0xff) };
    values.set(length, v);
  }
  return v;
}

// Small rows, then large ones, then both: a slab store must give back the
// room the small rows held when the large ones push them out, though some
// of them, read again, stay (the way slabs of one size class or with a few
// live values in each would keep growing).
const PHASES = [
  { name: 'small', length: (r: number) => 8 + Math.floor(r * 400) },
  { name: 'large', length: (r: number) => 1000 + Math.floor(r * 5000) },
  { name: 'mixed', length: (r: number) => 8 + Math.floor(r ** 3 * 6000) },
] as const;

describe('the byte bound of every L1 store', () => {
  for (const maxBytes of [2 ** 20, 32 * 2 ** 20]) {
    for (const [layout, policy] of [
      ['heap', 'lru'],
      ['heap', 'tinylfu'],
      ['arena', 'lru'],
      ['arena', 'tinylfu'],
    ] as const) {
      it(`${policy} kept ${layout === 'arena' ? 'in the arena' : 'as objects'}, bound ${maxBytes / 2 ** 20} MiB: counted and held within ${SLACK} of it`, () => {
        const { store, held, evictions } = subject(layout, policy, maxBytes);
        let seed = 0x5eed;
        const random = () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed / 0x80000000;
        };
        let key = 0;
        let worstCounted = 0;
        let worstHeld = 0;
        for (const phase of PHASES) {
          // Twice the bound's worth of new rows, each phase.
          for (let written = 0; written < 2 * maxBytes; ) {
            const length = phase.length(random());
            store.set(kind, `k${key}`, value(length), MINUTE);
            written += length + 100;
            key++;
            // Half the time, a row written before is read again (recent ones more often), so some old rows stay.
            if (random() < 0.5) store.get(kind, `k${Math.floor(key * (1 - random() ** 3))}`);
            worstCounted = Math.max(worstCounted, store.bytes);
            if (layout === 'arena') worstHeld = Math.max(worstHeld, held());
          }
          expect(store.bytes, `${phase.name}: filled`).toBeGreaterThan(maxBytes * 0.9);
          worstHeld = Math.max(worstHeld, held());
        }
        expect(evictions()).toBeGreaterThan(1000);
        // What it says it holds: within the bound (its own promise), and so within 2%.
        expect(worstCounted).toBeLessThanOrEqual(maxBytes);
        expect(worstCounted).toBeLessThanOrEqual(maxBytes * SLACK);
        expect(recount(store)).toBe(store.bytes);
        // What it holds: the slabs it reserved, or the values it keeps.
        expect(worstHeld).toBeLessThanOrEqual(maxBytes * SLACK);
      });
    }
  }
});
