import type { FrameKind } from './value_frame.js';

/** How long a new entry lives in each tier (ms). */
export interface EntryTtl {
  readonly l1Ms: number;
  /** L2 lifetime of this entry; 0 or less keeps it out of L2 (L1 only). */
  readonly l2Ms: number;
  /**
   * The shortest L2 lifetime an entry of this kind is ever given (the jitter
   * floor): what bounds an L1 copy of an L2 hit, whose own lifetime is not
   * known to the reader.
   */
  readonly l2FloorMs?: number;
}

/**
 * What one kind of cached value (predictions, feature rows, embeddings)
 * brings to the generic cache: its codec, checked against the reader's
 * schema, its size in L1 and its lifetimes. An instance is made per schema
 * (a model version's outputs, a view's features), so decode() verifies a
 * value read from Redis against what this reader expects.
 */
export interface CacheKind<V> {
  readonly id: FrameKind;
  /** The time a frame carries: when the value was computed, or its event time. */
  timeOf(value: V): number;
  /** When the value was written to L2: its L2 lifetime counts from then. */
  writtenAt(value: V): number;
  /** The value's payload bytes; the frame around them is the cache's. */
  encode(value: V): Uint8Array;
  /** The value from payload bytes, checked against this reader's schema; throws RejectedValue. */
  decode(payload: Buffer, time: number): V;
  /** Bytes the value costs in L1, bookkeeping included. */
  sizeOf(value: V): number;
  /** Lifetimes of a new entry (jitter included, where the kind wants it). */
  ttl(value: V): EntryTtl;
  /**
   * What a copy of an L2 hit in L1 is bounded by: read once per hit instead
   * of ttl(), whose jitter draw (and object) a copy never uses. Agrees with ttl()'s
   * l1Ms and l2FloorMs for every value L2 can hold (lifetimes() derives both).
   */
  readonly copyTtl: CopyTtl;
}

export interface CopyTtl {
  readonly l1Ms: number;
  readonly l2FloorMs: number;
}

// Rough per-entry bookkeeping in L1 (object headers, key string, LRU slots):
// without it a bound in bytes would admit millions of tiny entries.
export const ENTRY_OVERHEAD_BYTES = 160;

/** `base` spread by ±`jitter` (a fraction), so entries written together do not expire together. */
function jittered(base: number, jitter: number): number {
  return Math.max(1, Math.round(base * (1 + jitter * (2 * Math.random() - 1))));
}

/**
 * A kind's lifetimes from its settings: ttl() draws the jittered L2 TTL of a
 * new entry; copyTtl, what bounds an L1 copy of an L2 hit, is derived from
 * the same numbers, so the two cannot disagree.
 */
export function lifetimes(settings: {
  readonly l1Ms: number;
  readonly l2Ms: number;
  readonly l2Jitter: number;
}): {
  ttl(): EntryTtl;
  readonly copyTtl: CopyTtl;
} {
  const { l1Ms, l2Ms, l2Jitter } = settings;
  const l2FloorMs = l2Ms * (1 - l2Jitter);
  return {
    ttl: () => ({ l1Ms, l2Ms: jittered(l2Ms, l2Jitter), l2FloorMs }),
    copyTtl: { l1Ms, l2FloorMs },
  };
}
