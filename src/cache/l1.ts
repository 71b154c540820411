import { LRUCache } from 'lru-cache';
import type { Metrics } from '../ops/metrics.js';
import { type CacheEntry, entryBytes } from './entry.js';

export interface L1Options {
  readonly maxBytes: number;
  readonly ttlMs: number;
}

/** The in-process tier: an LRU bounded in bytes, with a TTL. */
export class L1Cache {
  readonly #lru: LRUCache<string, CacheEntry>;

  constructor(options: L1Options, metrics: Metrics) {
    this.#lru = new LRUCache<string, CacheEntry>({
      maxSize: options.maxBytes,
      // An entry larger than the whole cache is refused rather than evicting everything.
      maxEntrySize: options.maxBytes,
      sizeCalculation: (entry, key) => entryBytes(entry, key),
      ttl: options.ttlMs,
      // Expired entries are dropped when touched; no timer per entry.
      ttlAutopurge: false,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') metrics.l1Evictions.inc();
      },
    });
    metrics.gaugeSources.l1Entries = () => this.#lru.size;
    metrics.gaugeSources.l1Bytes = () => this.#lru.calculatedSize;
  }

  get(key: string): CacheEntry | undefined {
    return this.#lru.get(key);
  }

  set(key: string, entry: CacheEntry): void {
    this.#lru.set(key, entry);
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
