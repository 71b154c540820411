import { LRUCache } from 'lru-cache';
import type { CacheKind } from './kind.js';

/** How one kind's part of L1 chooses what to keep: see l1.ts and tiny_lfu.ts. */
export type L1Policy = 'lru' | 'tinylfu';

export interface StoreOptions<V = unknown> {
  /** The bound, in bytes; an entry larger than this is refused. */
  readonly maxBytes: number;
  /** Milliseconds on a monotonic clock (performance.now by default); injectable for tests. */
  readonly now?: () => number;
  /** Called for each entry dropped to make room (not for delete, clear, replacement or expiry). */
  readonly onEvict?: () => void;
  /**
   * Called for each entry that leaves, for any reason (evicted, refused,
   * deleted, replaced, expired, cleared): a value that owns a resource, such
   * as a slot of the arena (arena_store.ts), gives it back here.
   */
  readonly onDrop?: (value: V) => void;
}

/**
 * A map bounded in bytes whose entries carry their own lifetime: what each
 * kind of L1 is made of, whichever policy decides what it keeps. After any
 * set() returns, `bytes <= maxBytes` holds.
 */
export interface BoundedStore<V> {
  get(key: string): V | undefined;
  /**
   * Keeps `value`, costing `size` bytes, for `ttlMs` (at least 1). A value
   * larger than the whole bound is refused, and what `key` held is dropped,
   * so a stale copy never outlives a refused update.
   */
  set(key: string, value: V, size: number, ttlMs: number): void;
  delete(key: string): boolean;
  clear(): void;
  keys(): IterableIterator<string>;
  /** Every live entry with the time it has left (ms). */
  entries(): Generator<[string, V, number]>;
  /** Entries held, expired ones not yet dropped included (as lru-cache counts them). */
  readonly size: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/**
 * One kind's part of L1 as L1Cache uses it: values go in and out through
 * their CacheKind, so a store may keep them as objects (heapStore) or as
 * bytes (ArenaStore). `ttlMs` is at least 1.
 */
export interface KindStore {
  get<V>(kind: CacheKind<V>, key: string): V | undefined;
  set<V>(kind: CacheKind<V>, key: string, value: V, ttlMs: number): void;
  /** The bytes `value` costs against the bound when kept under `key` (what set() charges). */
  charge<V>(kind: CacheKind<V>, key: string, value: V): number;
  delete(key: string): boolean;
  clear(): void;
  keys(): IterableIterator<string>;
  entries(): Generator<[string, object, number]>;
  readonly size: number;
  readonly bytes: number;
}

/** What a value kept as the object it is costs: its kind's sizeOf plus its key. */
export function heapCharge<V>(kind: CacheKind<V>, key: string, value: V): number {
  return kind.sizeOf(value) + key.length;
}

/** Values kept as the objects they are, each costing heapCharge. */
export function heapStore(store: BoundedStore<object>): KindStore {
  const charge = heapCharge;
  return {
    get: <V>(_kind: CacheKind<V>, key: string) => store.get(key) as V | undefined,
    set: <V>(kind: CacheKind<V>, key: string, value: V, ttlMs: number) => {
      store.set(key, value as object, charge(kind, key, value), ttlMs);
    },
    charge,
    delete: (key) => store.delete(key),
    clear: () => store.clear(),
    keys: () => store.keys(),
    entries: () => store.entries(),
    get size() {
      return store.size;
    },
    get bytes() {
      return store.bytes;
    },
  };
}

/** Plain LRU: lru-cache with its byte bound, per-entry sizes and TTLs. */
export function lruStore<V extends {}>(options: StoreOptions<V>): BoundedStore<V> {
  const { maxBytes, onEvict, onDrop } = options;
  const lru = new LRUCache<string, V>({
    maxSize: maxBytes,
    // An entry larger than the whole budget is refused rather than evicting everything.
    maxEntrySize: maxBytes,
    // Expired entries are dropped when touched; no timer per entry.
    ttlAutopurge: false,
    // lru-cache otherwise reuses a reading of the clock for 1 ms, which a clock a test moves would outlast.
    ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    ...(onEvict || onDrop
      ? {
          dispose: (value: V, _key: string, reason: LRUCache.DisposeReason) => {
            if (reason === 'evict') onEvict?.();
            onDrop?.(value);
          },
        }
      : {}),
  });
  return {
    get: (key) => lru.get(key),
    set: (key, value, size, ttlMs) => {
      lru.set(key, value, { ttl: ttlMs, size });
    },
    delete: (key) => lru.delete(key),
    clear: () => lru.clear(),
    keys: () => lru.keys(),
    *entries() {
      for (const [key, value] of lru.entries()) {
        const left = lru.getRemainingTTL(key);
        if (left > 0) yield [key, value, left];
      }
    },
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
    maxBytes,
  };
}
