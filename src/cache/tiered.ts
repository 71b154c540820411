import type { Counter } from 'prom-client';
import type { Metrics } from '../ops/metrics.js';
import { decodeEntry, encodeEntry } from './codec.js';
import type { CacheEntry } from './entry.js';
import type { EntryKind } from './keys.js';
import type { L1Cache } from './l1.js';
import type { L2Cache, L2Write } from './l2.js';

export type Tier = 'l1' | 'l2';

export interface Hit {
  readonly entry: CacheEntry;
  readonly tier: Tier;
}

export interface TieredOptions {
  readonly l2TtlMs: number;
  /** Fraction of the TTL added or removed at random, per entry. */
  readonly l2TtlJitter: number;
}

/**
 * L1 then L2, for many keys at once: L1 answers what it can, all its misses
 * go to Redis in one round trip, and L2 hits are copied into L1.
 */
export class TieredCache {
  readonly #l1: L1Cache;
  readonly #l2: L2Cache | undefined;
  readonly #options: TieredOptions;
  readonly #metrics: Metrics;
  readonly #counters = new Map<string, ReturnType<Counter<'kind' | 'tier' | 'result'>['labels']>>();

  constructor(l1: L1Cache, l2: L2Cache | undefined, options: TieredOptions, metrics: Metrics) {
    this.#l1 = l1;
    this.#l2 = l2;
    this.#options = options;
    this.#metrics = metrics;
  }

  /** One answer per key, in order; `maxAgeMs` > 0 treats older entries as misses. */
  async getMany(kind: EntryKind, keys: readonly string[], maxAgeMs = 0): Promise<(Hit | undefined)[]> {
    const now = Date.now();
    const fresh = (e: CacheEntry) => maxAgeMs <= 0 || now - e.createdAt <= maxAgeMs;
    const out = new Array<Hit | undefined>(keys.length).fill(undefined);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const entry = this.#l1.get(keys[i] as string);
      if (entry !== undefined && fresh(entry)) out[i] = { entry, tier: 'l1' };
      else missing.push(i);
    }
    this.#count(kind, 'l1', 'hit', keys.length - missing.length);
    this.#count(kind, 'l1', 'miss', missing.length);
    if (missing.length === 0 || this.#l2 === undefined) return out;

    const values = await this.#l2.getMany(missing.map((i) => keys[i] as string));
    let hits = 0;
    for (let j = 0; j < missing.length; j++) {
      const raw = values[j];
      if (raw == null) continue;
      const entry = this.#decode(raw);
      if (entry === undefined || !fresh(entry)) continue;
      const i = missing[j] as number;
      out[i] = { entry, tier: 'l2' };
      this.#l1.set(keys[i] as string, entry);
      hits++;
    }
    this.#count(kind, 'l2', 'hit', hits);
    this.#count(kind, 'l2', 'miss', missing.length - hits);
    return out;
  }

  /** Stores in L1 now and in L2 in the background. */
  setMany(keys: readonly string[], entries: readonly CacheEntry[]): void {
    const writes: L2Write[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const entry = entries[i] as CacheEntry;
      this.#l1.set(key, entry);
      if (this.#l2 !== undefined) writes.push({ key, value: encodeEntry(entry), ttlMs: this.#jitteredTtl() });
    }
    this.#l2?.writeMany(writes);
  }

  #decode(raw: Buffer): CacheEntry | undefined {
    try {
      return decodeEntry(raw);
    } catch {
      this.#metrics.decodeErrors.inc();
      return undefined;
    }
  }

  #jitteredTtl(): number {
    const { l2TtlMs, l2TtlJitter } = this.#options;
    return Math.round(l2TtlMs * (1 + l2TtlJitter * (2 * Math.random() - 1)));
  }

  #count(kind: EntryKind, tier: Tier, result: 'hit' | 'miss', n: number): void {
    if (n === 0) return;
    const id = `${kind}|${tier}|${result}`;
    let counter = this.#counters.get(id);
    if (counter === undefined) {
      counter = this.#metrics.cacheLookups.labels(kind, tier, result);
      this.#counters.set(id, counter);
    }
    counter.inc(n);
  }
}
