import type { CacheMetrics, L1Source } from '../ops/metrics.js';
import { ArenaStore } from './arena_store.js';
import {
  type BoundedStore,
  heapCharge,
  heapStore,
  type KindStore,
  type L1Policy,
  lruStore,
  type StoreOptions,
} from './bounded_store.js';
import { ChangeMarks } from './change_marks.js';
import type { CacheKind } from './kind.js';
import type { L1Store } from './l1_store.js';
import { TinyLfuStore } from './tiny_lfu.js';
import { type L1Trace, tracedStore } from './traced_store.js';
import type { FrameKind } from './value_frame.js';

/** The share of the L1 byte budget each kind gets (fractions summing to at most 1). */
export type L1Shares = Readonly<Record<FrameKind, number>>;

/** The policy of each kind's part of L1. */
export type L1Policies = Readonly<Record<FrameKind, L1Policy>>;

export interface L1Options {
  readonly maxBytes: number;
  readonly shares: L1Shares;
  /** Plain LRU for a kind left out. */
  readonly policies?: Partial<L1Policies>;
  /** Kinds whose values are kept encoded in a slab arena (arena_store.ts) rather than as objects. */
  readonly arena?: readonly FrameKind[];
  /** Milliseconds on a monotonic clock, for TTLs (performance.now by default). */
  readonly now?: () => number;
  /** Where the lookups and stores of sampled keys are recorded (trace_recorder.ts); none by default. */
  readonly trace?: L1Trace;
}

/**
 * The in-process tier: one store per kind, each bounded in bytes by its
 * share of one total budget, so a flood of one kind (say, feature rows)
 * cannot evict another's hot set (predictions). Each kind's store is a plain
 * LRU or W-TinyLFU (tiny_lfu.ts), as configured, keeping values as objects
 * or, for the kinds named in `arena`, as bytes in a slab arena
 * (arena_store.ts). Entries carry their own TTL.
 */
export class L1Cache {
  readonly #stores = new Map<FrameKind, KindStore>();
  readonly #trace: L1Trace | undefined;
  /** Entries changed from outside a read, for the reads and computations in flight. */
  readonly marks = new ChangeMarks();
  /** Kinds given a share of 0: L1 is off for them, and store() gives OFF. */
  readonly #off = new Set<FrameKind>();

  constructor(options: L1Options, metrics: CacheMetrics, sources: Map<string, L1Source>) {
    this.#trace = options.trace;
    const total = Object.values(options.shares).reduce((a, b) => a + b, 0);
    if (total > 1 + 1e-9) throw new RangeError(`L1 shares add up to ${total}, more than 1`);
    for (const [kind, share] of Object.entries(options.shares) as [FrameKind, number][]) {
      if (share === 0) {
        this.#off.add(kind);
        sources.set(kind, { entries: () => 0, bytes: () => 0, maxBytes: () => 0, arenaBytes: () => 0 });
        continue;
      }
      const maxBytes = Math.max(1, Math.floor(options.maxBytes * share));
      const evictions = metrics.l1Evictions.labels(kind);
      const storeOptions = {
        maxBytes,
        onEvict: () => evictions.inc(),
        ...(options.now ? { now: options.now } : {}),
      };
      const policy = <V extends {}>(o: StoreOptions<V>): BoundedStore<V> =>
        options.policies?.[kind] === 'tinylfu' ? new TinyLfuStore<V>(o) : lruStore<V>(o);
      const arena = options.arena?.includes(kind) ? new ArenaStore(policy, storeOptions) : undefined;
      const store: KindStore = arena ?? heapStore(policy<object>(storeOptions));
      this.#stores.set(kind, store);
      sources.set(kind, {
        entries: () => store.size,
        bytes: () => store.bytes,
        maxBytes: () => maxBytes,
        arenaBytes: () => arena?.reservedBytes ?? 0,
      });
    }
  }

  /** Drops `key` from the part of kind `id`. */
  delete(id: FrameKind, key: string): void {
    this.marks.changed(key);
    this.#stores.get(id)?.delete(key);
  }

  /** Drops every entry of kind `id` whose key starts with `prefix`; returns how many. */
  deletePrefix(id: FrameKind, prefix: string): number {
    this.marks.changedKind(id);
    const store = this.#stores.get(id);
    return store === undefined ? 0 : deleteByPrefix(store, prefix);
  }

  /** Every live entry of kind `id` with the time it has left (ms), for a snapshot. */
  *entries(id: FrameKind): Generator<[string, object, number]> {
    const store = this.#stores.get(id);
    if (store === undefined) return;
    yield* store.entries();
  }

  /** Drops every entry of kind `id`. */
  clear(id: FrameKind): void {
    this.marks.changedKind(id);
    this.#stores.get(id)?.clear();
  }

  store<V extends object>(kind: CacheKind<V>): L1Store<V> {
    if (this.#off.has(kind.id)) {
      const off = OFF as L1Store<V>;
      // Traced all the same: a trace is how an operator sizes the L1 a kind does not have yet.
      if (this.#trace === undefined) return off;
      return tracedStore(off, kind.id, (key, value) => heapCharge(kind, key, value), this.#trace);
    }
    const store = this.#stores.get(kind.id);
    if (store === undefined) throw new RangeError(`no L1 budget for kind ${kind.id}`);
    const plain: L1Store<V> = {
      get: (key) => store.get(kind, key),
      getAll: (keys, accept) => {
        const values = new Array<V>(keys.length);
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i] as string;
          const value = store.get(kind, key);
          if (value === undefined || (accept !== undefined && !accept(value, key))) return undefined;
          values[i] = value;
        }
        return values;
      },
      set: (key, value, ttlMs) => {
        // lru-cache reads a ttl of 0 as "never expires": a lifetime that has
        // run out (or a NOT_FOUND memory of 0 ms) keeps nothing instead, in
        // every store alike.
        if (!(ttlMs >= 1)) {
          store.delete(key);
          return;
        }
        store.set(kind, key, value, ttlMs);
      },
      delete: (key) => {
        store.delete(key);
      },
      deletePrefix: (prefix) => deleteByPrefix(store, prefix),
      clear: () => store.clear(),
      get size() {
        return store.size;
      },
      get bytes() {
        return store.bytes;
      },
    };
    // Without a trace nothing is wrapped: the hit path pays nothing for the option.
    if (this.#trace === undefined) return plain;
    return tracedStore(plain, kind.id, (key, value) => store.charge(kind, key, value), this.#trace);
  }
}

/**
 * The part of L1 of a kind given a share of 0: it holds nothing, so a lookup
 * finds nothing without a map probe and a store sizes nothing (a one-byte
 * store refused every value, but only after sizing it and probing its map).
 */
const OFF: L1Store<object> = {
  get: () => undefined,
  getAll: (keys) => (keys.length === 0 ? [] : undefined),
  set: () => {},
  delete: () => {},
  deletePrefix: () => 0,
  clear: () => {},
  size: 0,
  bytes: 0,
};

function deleteByPrefix(store: KindStore, prefix: string): number {
  let n = 0;
  // Deleting from a Map while iterating its keys is safe: each key is visited once.
  for (const key of store.keys()) {
    if (key.startsWith(prefix)) {
      store.delete(key);
      n++;
    }
  }
  return n;
}
