import type { CacheKind } from './kind.js';
import { SingleFlight, waitUnlessAborted } from './single_flight.js';
import { type Hit, type Tier, type TieredCache, UNREACHABLE, type Unreachable } from './tiered.js';

/** Where one row's value came from. */
export type RowSource = Tier | 'computed';

export interface RowJob<V> {
  readonly kind: CacheKind<V>;
  /** One key per row; equal keys are computed once. */
  readonly keys: readonly string[];
  /**
   * Computes the values of the given rows (indexes into `keys`, distinct
   * keys, in ascending order) in one batch, one value per row, in order.
   * `unreachable` holds the rows whose L2 node did not answer: for them a
   * miss says nothing (a feature row may well exist).
   */
  readonly compute: (
    rows: readonly number[],
    signal: AbortSignal,
    unreachable: ReadonlySet<number>,
  ) => Promise<V[]>;
  /** False refuses a cached value (a caller's max age, say) read from `tier`: the row is computed again. */
  readonly accept?: (value: V, key: string, tier: Tier) => boolean;
  /** Store computed values (false: the caller asked for no_store). */
  readonly store: boolean;
  /** Of the computed values, which to store (all by default): a stale fallback, say, is served but not stored again. */
  readonly storeIf?: (value: V) => boolean;
  /**
   * Writes the computed values to L2 in place of the plain background write:
   * a feature row from an origin must not replace a newer row written
   * meanwhile, so it goes through the newer-wins script. Called in the
   * background; it must not throw.
   */
  readonly writeL2?: (keys: readonly string[], values: readonly V[]) => void;
  readonly signal: AbortSignal;
}

export interface RowResult<V> {
  readonly values: V[];
  readonly sources: RowSource[];
}

/**
 * The row engine every kind shares: keys → L1 → one L2 round trip per node →
 * single-flight → one batched computation of what is still missing → store →
 * values in request order. Rows another request is already computing are
 * awaited, not computed twice; if that computation fails (its caller's
 * deadline, say), the waiting request computes them itself rather than
 * inherit the error.
 */
export class RowEngine {
  readonly #cache: TieredCache;
  readonly #flight = new SingleFlight<unknown>();

  constructor(cache: TieredCache) {
    this.#cache = cache;
  }

  /** Every row's value when L1 holds them all (TieredCache.allFromL1); nothing is computed or awaited. */
  fromL1<V extends object>(
    kind: CacheKind<V>,
    keys: readonly string[],
    accept?: (value: V, key: string, tier: Tier) => boolean,
  ): V[] | undefined {
    return this.#cache.allFromL1(kind, keys, accept);
  }

  /**
   * Recomputes and stores the given rows of `job` in the background (an
   * early refresh): rows some call is already computing are left to it, the
   * rest are claimed, so readers of them wait for this computation rather
   * than start their own. Resolves to how many rows it refreshed, and
   * whether it failed; it never rejects.
   */
  refresh<V extends object>(
    job: RowJob<V>,
    rows: readonly number[],
  ): Promise<{ readonly rows: number; readonly failed: boolean }> {
    const free = rows.filter((r) => !this.#flight.has(job.keys[r] as string));
    if (free.length === 0) return Promise.resolve({ rows: 0, failed: false });
    const values = new Array<V | undefined>(job.keys.length);
    const marks = this.#cache.l1Marks;
    const mark = marks.open();
    return this.#compute(job, free, values, new Set(), mark)
      .then(
        () => ({ rows: free.length, failed: false }),
        () => ({ rows: free.length, failed: true }),
      )
      .finally(() => marks.close(mark));
  }

  async run<V extends object>(job: RowJob<V>): Promise<RowResult<V>> {
    const [result] = await this.runAll([job as unknown as RowJob<object>]);
    return result as unknown as RowResult<V>;
  }

  /**
   * Several jobs (of any kinds) sharing one L2 round trip per node: the
   * views of one GetFeatures call, say. Their computations run in parallel.
   */
  async runAll(jobs: readonly RowJob<object>[]): Promise<RowResult<object>[]> {
    const signal = jobs[0]?.signal;
    // Before the lookups: a row written to L1 after this is newer than what
    // the lookups found missing, and what is computed for it must not replace it.
    const marks = this.#cache.l1Marks;
    const mark = marks.open();
    try {
      const hits = await this.#cache.getManyOfKinds(
        jobs.map((j) => ({ kind: j.kind, keys: j.keys, ...(j.accept ? { accept: j.accept } : {}) })),
        signal,
      );
      return await Promise.all(
        jobs.map((job, n) => this.#finish(job, hits[n] as (Hit<object> | Unreachable | undefined)[], mark)),
      );
    } finally {
      marks.close(mark);
    }
  }

  async #finish<V extends object>(
    job: RowJob<V>,
    hits: readonly (Hit<V> | Unreachable | undefined)[],
    mark: number,
  ): Promise<RowResult<V>> {
    const { keys, signal } = job;
    const values = new Array<V | undefined>(keys.length);
    const sources = new Array<RowSource>(keys.length);
    const unreachable = new Set<number>();
    for (let r = 0; r < keys.length; r++) {
      const hit = hits[r];
      if (hit === UNREACHABLE) {
        unreachable.add(r);
        sources[r] = 'computed';
        continue;
      }
      values[r] = (hit as Hit<V> | undefined)?.value;
      sources[r] = (hit as Hit<V> | undefined)?.tier ?? 'computed';
    }

    // Rows to compute: the first row of each missing key nobody is computing.
    const toCompute: number[] = [];
    const retry: number[] = [];
    const waits: Promise<void>[] = [];
    const firstRow = new Map<string, number>();
    for (let r = 0; r < keys.length; r++) {
      if (values[r] !== undefined) continue;
      const key = keys[r] as string;
      if (firstRow.has(key)) continue;
      firstRow.set(key, r);
      const pending = this.#flight.pending(key);
      if (pending === undefined) toCompute.push(r);
      else
        waits.push(
          waitUnlessAborted(pending as Promise<V>, signal).then(
            (v) => {
              values[r] = v;
            },
            (error: unknown) => {
              if (signal.aborted) throw error;
              retry.push(r);
            },
          ),
        );
    }
    try {
      if (toCompute.length > 0) await this.#compute(job, toCompute, values, unreachable, mark);
    } finally {
      await Promise.allSettled(waits);
    }
    signal.throwIfAborted();
    if (retry.length > 0)
      await this.#compute(
        job,
        retry.sort((a, b) => a - b),
        values,
        unreachable,
        mark,
      );
    for (let r = 0; r < keys.length; r++) {
      if (values[r] === undefined) values[r] = values[firstRow.get(keys[r] as string) as number];
    }
    return { values: values as V[], sources };
  }

  /**
   * Claims the rows' keys, computes them in one batch, settles the claims,
   * stores the values: in L1 only those whose key no writer or invalidation
   * changed since `mark` was opened (what they wrote may be newer than what
   * was computed: an entity written while it was being found missing, a row
   * the origin answered with an older event time), and all in L2.
   */
  async #compute<V extends object>(
    job: RowJob<V>,
    rows: number[],
    values: (V | undefined)[],
    unreachable: ReadonlySet<number>,
    mark: number,
  ): Promise<void> {
    const keys = rows.map((r) => job.keys[r] as string);
    const claim = this.#flight.claim(keys);
    let computed: V[];
    try {
      computed = await job.compute(rows, job.signal, unreachable);
      if (computed.length !== rows.length) {
        throw new RangeError(`computed ${computed.length} values for ${rows.length} rows`);
      }
    } catch (error) {
      claim.reject(error);
      throw error;
    }
    for (let j = 0; j < rows.length; j++) {
      values[rows[j] as number] = computed[j];
      claim.resolve(j, computed[j] as V);
    }
    if (!job.store) return;
    let storeKeys: readonly string[] = keys;
    let storeValues: readonly V[] = computed;
    if (job.storeIf !== undefined) {
      const keep = computed.flatMap((v, j) => (job.storeIf?.(v) ? [j] : []));
      storeKeys = keep.map((j) => keys[j] as string);
      storeValues = keep.map((j) => computed[j] as V);
    }
    const marks = this.#cache.l1Marks;
    const kind = job.kind.id;
    // Which rows L1 may keep: asked key by key only when anything changed since the mark.
    const keep = marks.changedSince(mark)
      ? storeKeys.map((key) => marks.unchanged(kind, key, mark))
      : undefined;
    const l2 = job.writeL2 === undefined;
    if (keep === undefined || keep.every((k) => k)) {
      this.#cache.setMany(job.kind, storeKeys, storeValues, { l2 });
    } else {
      // Rare (a write of the same key raced this computation): split the batch.
      for (const toL1 of [true, false]) {
        const js = keep.flatMap((k, j) => (k === toL1 ? [j] : []));
        const ks = js.map((j) => storeKeys[j] as string);
        const vs = js.map((j) => storeValues[j] as V);
        this.#cache.setMany(job.kind, ks, vs, { l1: toL1, l2 });
      }
      this.#cache.keptBack(job.kind as CacheKind<object>, keep.filter((k) => !k).length);
    }
    if (job.writeL2 !== undefined && storeKeys.length > 0) job.writeL2(storeKeys, storeValues);
  }
}
