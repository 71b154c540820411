import type { CacheMetrics } from '../ops/metrics.js';
import type { KeyWrite, RedisDoor } from '../redis/door.js';
import type { ChangeMarks } from './change_marks.js';
import { CostAverage } from './early_refresh.js';
import type { CacheKind } from './kind.js';
import type { L1Cache } from './l1.js';
import type { L1Store } from './l1_store.js';
import { ReadCoalescer } from './read_coalescer.js';
import { decodeFrame, encodeFrame, type FrameKind, RejectedValue } from './value_frame.js';
import { WritesInFlight } from './writes_in_flight.js';

export type Tier = 'l1' | 'l2';

export interface Hit<V> {
  readonly value: V;
  readonly tier: Tier;
}

/**
 * A key whose L2 node did not answer (down, timed out, circuit open): a miss
 * that says nothing of the key. Callers that would answer "not found" for a
 * miss must not, for this.
 */
export const UNREACHABLE = Object.freeze({ unreachable: true as const });
export type Unreachable = typeof UNREACHABLE;

export interface LookupOptions<V> {
  /** False refuses a cached value (e.g. older than the caller's max age): it counts as a miss. */
  readonly accept?: (value: V, key: string, tier: Tier) => boolean;
  readonly signal?: AbortSignal;
}

/** One kind's keys in a lookup of several kinds (TieredCache.getManyOfKinds). */
export interface Batch {
  readonly kind: CacheKind<object>;
  readonly keys: readonly string[];
  /** Method syntax: a batch of any value type fits (its kind decoded the value). */
  accept?(value: object, key: string, tier: Tier): boolean;
}

/** A value queued for L2, framed when it is sent. */
interface Unframed {
  readonly kind: CacheKind<object>;
  readonly key: string;
  readonly value: object;
  readonly ttlMs: number;
}

// Writes framed and handed to the door per turn of the event loop (#sendQueued).
const WRITE_SLICE = 128;

export interface TieredOptions {
  /** Values in flight to L2 at most; past it new writes are dropped and counted. */
  readonly maxPendingWrites: number;
}

/**
 * L1 then L2, for many keys at once and any kind of value: L1 answers what it
 * can, all its misses go to Redis in one round trip per node, each value read
 * is checked (frame, key, the reader's schema) before use, and L2 hits are
 * copied into L1. Writes land in L1 at once and in L2 in the background.
 */
export class TieredCache {
  readonly #l1: L1Cache;
  readonly #door: RedisDoor;
  readonly #options: TieredOptions;
  readonly #metrics: CacheMetrics;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #reads: ReadCoalescer;
  readonly #counters = new Map<string, { inc(n: number): void }>();
  readonly #stores = new WeakMap<object, L1Store<object>>();
  /** Writes counted in #pendingWrites, not yet handed to the door (sent on the next setImmediate). */
  #queued: Unframed[] = [];
  #pendingWrites = 0;
  /** What a lookup round trip to L2 costs (ms); undefined until one was made. */
  #roundTrip: CostAverage | undefined;
  #l1Readable: () => boolean = () => true;
  /** Rows a writer of this sidecar is storing in Redis now; coherence marks those changed elsewhere. */
  readonly writesInFlight = new WritesInFlight();

  constructor(l1: L1Cache, door: RedisDoor, options: TieredOptions, metrics: CacheMetrics) {
    this.#l1 = l1;
    this.#door = door;
    this.#options = options;
    this.#metrics = metrics;
    this.#reads = new ReadCoalescer(door, 'mget');
  }

  get door(): RedisDoor {
    return this.#door;
  }

  get l1Cache(): L1Cache {
    return this.#l1;
  }

  /**
   * A moving average of what one L2 lookup (a call's MGET, all its nodes in
   * parallel) took here, in ms, failures included: what a cached request
   * pays before a miss can run. Undefined with no L2, or before the first.
   */
  get roundTripMs(): number | undefined {
    return this.#roundTrip?.ms;
  }

  /**
   * While `readable` answers false, lookups skip L1 (its entries may be
   * stale: the fleet's invalidations are being caught up with); values
   * still enter L1, fresh from L2 or computed.
   */
  gateL1(readable: () => boolean): void {
    this.#l1Readable = readable;
  }

  /**
   * The kind's L1 store, for a writer (PutFeatures): what it writes or drops
   * moves L1Cache.changes, so an L2 read in flight meanwhile, which may hold
   * the row it replaced, does not copy that row back over it.
   */
  l1<V extends object>(kind: CacheKind<V>): L1Store<V> {
    const store = this.#storeOf(kind);
    const l1 = this.#l1;
    return {
      get: (key) => store.get(key),
      getAll: (keys, accept) => store.getAll(keys, accept),
      set: (key, value, ttlMs) => {
        l1.marks.changed(key);
        store.set(key, value, ttlMs);
      },
      delete: (key) => {
        l1.marks.changed(key);
        store.delete(key);
      },
      deletePrefix: (prefix) => {
        l1.marks.changedKind(kind.id);
        return store.deletePrefix(prefix);
      },
      clear: () => {
        l1.marks.changedKind(kind.id);
        store.clear();
      },
      get size() {
        return store.size;
      },
      get bytes() {
        return store.bytes;
      },
    };
  }

  /** The kind's L1 store, made once per kind: lookups run on every call. */
  #storeOf<V extends object>(kind: CacheKind<V>): L1Store<V> {
    let store = this.#stores.get(kind) as L1Store<V> | undefined;
    if (store === undefined) {
      store = this.#l1.store(kind);
      this.#stores.set(kind, store as L1Store<object>);
    }
    return store;
  }

  /**
   * Every key's value from L1, in order, or undefined unless L1 holds (and
   * `accept` takes) all of them: the synchronous answer of a request L1
   * covers entirely. It counts its lookups only when it answers, so a caller
   * that gets undefined and goes on to getMany is counted once.
   */
  allFromL1<V extends object>(
    kind: CacheKind<V>,
    keys: readonly string[],
    accept?: (value: V, key: string, tier: Tier) => boolean,
  ): V[] | undefined {
    if (!this.#l1Readable()) return undefined;
    const values = this.#storeOf(kind).getAll(
      keys,
      accept === undefined ? undefined : (value, key) => accept(value, key, 'l1'),
    );
    if (values !== undefined) this.#count(kind.id, 'l1', 'hit', keys.length);
    return values;
  }

  /** One answer per key, in order; undefined for a miss in both tiers. */
  async getMany<V extends object>(
    kind: CacheKind<V>,
    keys: readonly string[],
    options: LookupOptions<V> = {},
  ): Promise<(Hit<V> | undefined)[]> {
    const batch: Batch = {
      kind,
      keys,
      ...(options.accept
        ? { accept: options.accept as (v: object, key: string, tier: Tier) => boolean }
        : {}),
    };
    const [answers] = await this.getManyOfKinds([batch], options.signal);
    const hits = answers as (Hit<V> | Unreachable | undefined)[];
    // In place: a batch is thousands of keys, and a second array of them costs as much as the loop.
    for (let i = 0; i < hits.length; i++) if (hits[i] === UNREACHABLE) hits[i] = undefined;
    return hits as (Hit<V> | undefined)[];
  }

  /**
   * getMany for several batches at once, of any kinds (the views of one
   * GetFeatures call, say): L1 first for each, then every L1 miss of all of
   * them in one round trip per Redis node, each key once. L1 lookups count
   * one per row, L2 lookups one per key fetched.
   */
  async getManyOfKinds(
    batches: readonly Batch[],
    signal?: AbortSignal,
  ): Promise<(Hit<object> | Unreachable | undefined)[][]> {
    const outs = batches.map((b) => new Array<Hit<object> | Unreachable | undefined>(b.keys.length));
    // The first row of each key L1 did not answer, as parallel arrays (no
    // object per key: a batch is thousands of keys); a key a batch names
    // again is fetched once and answered at each of its rows (`repeats`).
    const missingKeys: string[] = [];
    const missingBatch: number[] = [];
    const missingRow: number[] = [];
    const l1Readable = this.#l1Readable();
    const repeats: { batch: number; i: number; of: number }[] = [];
    for (let n = 0; n < batches.length; n++) {
      const b = batches[n] as Batch;
      const l1 = this.#storeOf(b.kind);
      const out = outs[n] as (Hit<object> | Unreachable | undefined)[];
      const first = new Map<string, number>();
      let misses = 0;
      for (let i = 0; i < b.keys.length; i++) {
        const key = b.keys[i] as string;
        const value = l1Readable ? l1.get(key) : undefined;
        if (value !== undefined && (b.accept === undefined || b.accept(value, key, 'l1'))) {
          out[i] = { value, tier: 'l1' };
          continue;
        }
        misses++;
        const of = first.get(key);
        if (of !== undefined) repeats.push({ batch: n, i, of });
        else {
          first.set(key, missingKeys.length);
          missingKeys.push(key);
          missingBatch.push(n);
          missingRow.push(i);
        }
      }
      this.#count(b.kind.id, 'l1', 'hit', b.keys.length - misses);
      this.#count(b.kind.id, 'l1', 'miss', misses);
    }
    if (missingKeys.length === 0 || this.#door.mode === 'none') return outs;

    const marks = this.#l1.marks;
    const mark = marks.open();
    try {
      return await this.#readL2(
        batches,
        outs,
        { missingKeys, missingBatch, missingRow, repeats },
        mark,
        signal,
      );
    } finally {
      marks.close(mark);
    }
  }

  /** getManyOfKinds' L2 part: one round trip for every key L1 did not answer, copied into L1 unless changed since `mark`. */
  async #readL2(
    batches: readonly Batch[],
    outs: (Hit<object> | Unreachable | undefined)[][],
    missing: {
      readonly missingKeys: readonly string[];
      readonly missingBatch: readonly number[];
      readonly missingRow: readonly number[];
      readonly repeats: readonly { batch: number; i: number; of: number }[];
    },
    mark: number,
    signal: AbortSignal | undefined,
  ): Promise<(Hit<object> | Unreachable | undefined)[][]> {
    const { missingKeys, missingBatch, missingRow, repeats } = missing;
    const started = performance.now();
    const raw = await this.#reads.read(missingKeys, signal);
    const tookMs = performance.now() - started;
    if (this.#roundTrip === undefined) this.#roundTrip = new CostAverage(tookMs);
    else this.#roundTrip.add(tookMs);
    const now = Date.now();
    const stores = batches.map((b) => this.#storeOf(b.kind));
    const marks = this.#l1.marks;
    // Most reads see no change at all while in flight: then no key is asked about.
    const changed = marks.changedSince(mark);
    const hits = new Array<number>(batches.length).fill(0);
    const misses = new Array<number>(batches.length).fill(0);
    for (let j = 0; j < missingKeys.length; j++) {
      const n = missingBatch[j] as number;
      const b = batches[n] as Batch;
      const key = missingKeys[j] as string;
      const out = outs[n] as unknown[];
      const bytes = raw[j];
      if (bytes === undefined) {
        out[missingRow[j] as number] = UNREACHABLE;
        misses[n] = (misses[n] as number) + 1;
        continue;
      }
      const value = bytes === null ? undefined : this.#open(b.kind, key, bytes);
      if (value === undefined || (b.accept !== undefined && !b.accept(value, key, 'l2'))) {
        misses[n] = (misses[n] as number) + 1;
        continue;
      }
      out[missingRow[j] as number] = { value, tier: 'l2' };
      hits[n] = (hits[n] as number) + 1;
      // A copy in L1 lives no longer than the L2 entry it copies would, so
      // the pair never serves a value past its L2 lifetime.
      const ttl = b.kind.copyTtl;
      const l1Ms = Math.min(ttl.l1Ms, ttl.l2FloorMs - (now - b.kind.writtenAt(value)));
      if (l1Ms <= 0) continue;
      // A key written or invalidated while the read was in flight gets no
      // copy: what was read may be what was just replaced.
      if (!changed || marks.unchanged(b.kind.id, key, mark))
        (stores[n] as L1Store<object>).set(key, value, l1Ms);
      else this.#metrics.l1KeptBack.labels(b.kind.id, 'l2').inc();
    }
    for (const r of repeats) {
      (outs[r.batch] as unknown[])[r.i] = (outs[missingBatch[r.of] as number] as unknown[])[
        missingRow[r.of] as number
      ];
    }
    batches.forEach((b, n) => {
      this.#count(b.kind.id, 'l2', 'hit', hits[n] as number);
      this.#count(b.kind.id, 'l2', 'miss', misses[n] as number);
    });
    return outs;
  }

  /**
   * Keys a change made elsewhere in the fleet reached (a newer row, a
   * delete): L1 drops them, and a write of one by this sidecar still on its
   * way keeps no row of it (WritesInFlight). `kindAt` is where a key's kind
   * letter is (after its prefix and colon).
   */
  changedElsewhere(keys: readonly string[], kindAt: number): void {
    for (const key of keys) {
      this.writesInFlight.changed(key);
      this.#l1.delete(key[kindAt] as FrameKind, key);
    }
  }

  /** Which L1 entries changed while a read or computation was in flight (cache/change_marks.ts). */
  get l1Marks(): ChangeMarks {
    return this.#l1.marks;
  }

  /** A value not kept in L1 because its key changed while it was computed (row_engine.ts). */
  keptBack(kind: CacheKind<object>, n: number): void {
    if (n > 0) this.#metrics.l1KeptBack.labels(kind.id, 'computed').inc(n);
  }

  /**
   * Stores in L1 now (unless `to.l1` is false) and in L2 in the background
   * (bounded; unless `to.l2` is false).
   */
  setMany<V extends object>(
    kind: CacheKind<V>,
    keys: readonly string[],
    values: readonly V[],
    to: { readonly l1?: boolean; readonly l2?: boolean } = {},
  ): void {
    const l1 = this.#storeOf(kind);
    const writes: Unframed[] = [];
    const toL1 = to.l1 !== false;
    const toL2 = to.l2 !== false && this.#door.mode !== 'none';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = values[i] as V;
      const ttl = kind.ttl(value);
      if (toL1) l1.set(key, value, ttl.l1Ms);
      if (!toL2 || ttl.l2Ms <= 0) continue;
      // Framed when sent (#sendQueued), not here: the caller's answer does not wait for it.
      writes.push({ kind: kind as CacheKind<object>, key, value, ttlMs: ttl.l2Ms });
    }
    if (writes.length > 0) this.#writeInBackground(kind.id, writes);
  }

  /** The framed bytes of a value as L2 stores it under `key`. */
  frame<V>(kind: CacheKind<V>, key: string, value: V): Buffer {
    return encodeFrame(key, kind.id, kind.timeOf(value), kind.encode(value));
  }

  /** Sends the writes queued for L2 and waits for those in flight (each bounded by the Redis timeout). */
  async flush(): Promise<void> {
    while (this.#queued.length > 0) this.#sendQueued();
    await Promise.allSettled([...this.#pending]);
  }

  /**
   * Queues writes for L2; what every call queued in one turn of the event
   * loop goes out together (setImmediate), as one pipeline per node: 64
   * concurrent misses made 64 pipelines, each its own socket write and
   * reply parse on both sides, and the SETs of a miss-heavy load cost more
   * main-thread time than the gRPC calls themselves.
   */
  #writeInBackground(kind: string, writes: Unframed[]): void {
    if (this.#pendingWrites + writes.length > this.#options.maxPendingWrites) {
      this.#metrics.l2DroppedWrites.labels(kind, 'queue_full').inc(writes.length);
      return;
    }
    this.#pendingWrites += writes.length;
    for (const w of writes) this.#queued.push(w);
    if (this.#queued.length === writes.length) setImmediate(() => this.#sendQueued());
  }

  /**
   * Frames and sends up to WRITE_SLICE queued writes, and leaves the rest to
   * the next turn of the event loop: framing (a checksum per value) and
   * building the commands of a 512-row miss in one go held the loop for tens
   * of milliseconds, and an L1 hit must not wait behind a miss's writes.
   */
  #sendQueued(): void {
    if (this.#queued.length === 0) return;
    const slice = this.#queued.splice(0, WRITE_SLICE);
    if (this.#queued.length > 0) setImmediate(() => this.#sendQueued());
    const writes: KeyWrite[] = [];
    for (const w of slice) {
      try {
        writes.push({ key: w.key, value: this.frame(w.kind, w.key, w.value), ttlMs: w.ttlMs });
      } catch {
        // A value the format cannot hold (say, a tensor of rank above 255)
        // stays in L1 only; storing must never fail the call that computed it.
        this.#metrics.l2DroppedWrites.labels(w.kind.id, 'unencodable').inc();
        this.#pendingWrites--;
      }
    }
    if (writes.length === 0) return;
    // The door never rejects; failures are counted there, per command.
    const done: Promise<unknown> = this.#door.setMany('set', writes).finally(() => {
      this.#pendingWrites -= writes.length;
      this.#pending.delete(done);
    });
    this.#pending.add(done);
  }

  #open<V>(kind: CacheKind<V>, key: string, bytes: Buffer): V | undefined {
    try {
      const frame = decodeFrame(key, kind.id, bytes);
      return kind.decode(frame.payload, frame.time);
    } catch (error) {
      const reason = error instanceof RejectedValue ? error.reason : 'format';
      this.#metrics.rejected.labels(kind.id, reason).inc();
      return undefined;
    }
  }

  #count(kind: string, tier: Tier, result: 'hit' | 'miss', n: number): void {
    if (n === 0) return;
    const id = `${kind}|${tier}|${result}`;
    let counter = this.#counters.get(id);
    if (counter === undefined) {
      counter = this.#metrics.lookups.labels(kind, tier, result);
      this.#counters.set(id, counter);
    }
    counter.inc(n);
  }
}
