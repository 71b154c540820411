import type { L1Store } from './l1_store.js';
import type { FrameKind } from './value_frame.js';

/** A running count. */
export interface Tally {
  n: number;
}

/** Where a traced L1 store reports the lookups and stores of sampled keys (trace_recorder.ts). */
export interface L1Trace {
  /** The count of every lookup of `kind`, sampled or not (a replay corrects its estimate with it). */
  lookups(kind: FrameKind): Tally;
  /** The key's 64-bit hash when the key is sampled, else undefined. */
  sampled(key: string): bigint | undefined;
  /** A lookup of a sampled key: `bytes` is what its entry costs on a hit, 0 on a miss. */
  lookup(kind: FrameKind, hash: bigint, bytes: number): void;
  /** A value stored under a sampled key, costing `bytes`: how a key first missed gets its size. */
  store(kind: FrameKind, hash: bigint, bytes: number): void;
}

/**
 * One kind's L1 store with its lookups and stores of sampled keys recorded.
 * Every reader of L1 (the synchronous all-L1 answer, the tiered lookups,
 * PutFeatures without Redis) goes through a store made by L1Cache.store(),
 * so every lookup of every kind is seen here. `charge` is what the store
 * charges an entry, for its size in the trace.
 */
export function tracedStore<V>(
  store: L1Store<V>,
  kind: FrameKind,
  charge: (key: string, value: V) => number,
  trace: L1Trace,
): L1Store<V> {
  const lookups = trace.lookups(kind);
  return {
    get(key) {
      const value = store.get(key);
      lookups.n++;
      const hash = trace.sampled(key);
      if (hash !== undefined) trace.lookup(kind, hash, value === undefined ? 0 : charge(key, value));
      return value;
    },
    getAll(keys, accept) {
      const values = store.getAll(keys, accept);
      // Recorded only when it answers: a caller it fails looks every key up
      // again through get() (TieredCache.getManyOfKinds), and a miss
      // recorded twice would replay as a miss and then a hit.
      if (values === undefined) return undefined;
      lookups.n += keys.length;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const hash = trace.sampled(key);
        if (hash !== undefined) trace.lookup(kind, hash, charge(key, values[i] as V));
      }
      return values;
    },
    set(key, value, ttlMs) {
      store.set(key, value, ttlMs);
      const hash = trace.sampled(key);
      if (hash !== undefined) trace.store(kind, hash, charge(key, value));
    },
    delete: (key) => store.delete(key),
    deletePrefix: (prefix) => store.deletePrefix(prefix),
    clear: () => store.clear(),
    get size() {
      return store.size;
    },
    get bytes() {
      return store.bytes;
    },
  };
}
