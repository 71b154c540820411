import { CostAverage, refreshDue } from '../cache/early_refresh.js';
import { KeyMemo } from '../cache/key_memo.js';
import { cacheKey, type KeyHasher, keyScope } from '../cache/keys.js';
import type { CacheKind } from '../cache/kind.js';
import type { RowEngine, RowJob, RowSource } from '../cache/row_engine.js';
import type { Tier } from '../cache/tiered.js';
import { InferCacheError } from '../errors.js';
import type { FeatureMetrics } from '../ops/metrics.js';
import type { RedisDoor } from '../redis/door.js';
import { type EntityColumnWire, type EntityRows, entityRows } from './entity_keys.js';
import { checkAnswerSize, type FeatureRef, resolveRefs } from './feature_refs.js';
import type { FeatureSource, GetFeaturesResult, ViewResult } from './feature_result.js';
import { type FeatureRow, featureRowKind } from './feature_row.js';
import { isStale, withinGrace } from './freshness.js';
import { NEWER_WINS, newerWinsCall } from './newer_wins.js';
import { Origin, OriginError } from './origin.js';
import { countServed } from './served_counts.js';
import type { FeatureView } from './view.js';

export interface FeaturesDeps {
  readonly views: () => ReadonlyMap<string, FeatureView>;
  readonly engine: RowEngine;
  readonly hasher: KeyHasher;
  /**
   * The hasher for rows being written (PutFeatures, a bulk load), whose keys
   * rarely repeat: the serving hasher remembers recent hashes, and writes
   * would only push out the ones lookups reuse. Defaults to `hasher`.
   */
  readonly writeHasher?: KeyHasher;
  /**
   * Remembers the key of each row read (cache/key_memo.ts), shared with the
   * other kinds so one bound holds for all; the reader's own when absent.
   * Rows written are not remembered, for writeHasher's reason.
   */
  readonly keyMemo?: KeyMemo;
  readonly keyPrefix: string;
  readonly maxEntityRows: number;
  /**
   * The largest answer a call may make (INFERCACHE_MAX_MESSAGE_BYTES): a call
   * whose answer cannot fit is refused before anything is read. Unbounded
   * when absent (the CLI, which builds no gRPC answer).
   */
  readonly maxAnswerBytes?: number;
  readonly l2Jitter: number;
  readonly metrics: FeatureMetrics;
  readonly now: () => number;
  /** The current generation of an invalidation scope ("f:<view>"); 0 when none moved it. */
  readonly generation: (scope: string) => number;
  /**
   * Where rows an origin answered are written to L2: through the newer-wins
   * script (newer_wins.ts), so a row put while the origin was being asked,
   * with a later event time, is never replaced by the origin's older one.
   */
  readonly door: Pick<RedisDoor, 'mode' | 'evalMany'>;
  /** Told of every lookup by entity: the view, each row's key hash and its join values (popularity). */
  readonly onLookup?: (view: FeatureView, hashes: readonly string[], rows: EntityRows) => void;
  /**
   * Early refresh (cache/early_refresh.ts) of the rows of views with an
   * origin, read from L1 or L2 close to max_age: its beta (0: off), and
   * what is told of each refresh that ran (rows, whether it failed). Off
   * when absent. `random` is XFetch's draw (Math.random), for tests.
   */
  readonly earlyRefresh?: {
    readonly beta: number;
    readonly refreshed: (rows: number, failed: boolean) => void;
    readonly random?: () => number;
  };
}

/** What each view brings: its cache kind, key scope and origin, made once per view. */
export interface ViewPlumbing {
  readonly kind: CacheKind<FeatureRow>;
  readonly origin: Origin | undefined;
  /**
   * Rows past max_age served because the origin failed, with the tier they
   * were read from: they are answered STALE with that source (not the
   * origin's, also to the calls that waited on the same computation) and
   * not stored again.
   */
  readonly fallbacks: WeakMap<FeatureRow, Tier>;
  /** What one call to the origin costs (ms), for early refresh. */
  readonly originCost: CostAverage;
}
interface PreparedCall {
  readonly refs: readonly FeatureRef[];
  readonly views: readonly FeatureView[];
  readonly rows: EntityRows;
  readonly hashes: readonly string[];
  readonly now: number;
}

// The key memo's context of entity ids' hashes, by join key type: a newline
// first, which no key scope (prefix:kind:...) begins with.
const ID_CONTEXT = '\nentity id hash ';

// An origin call's cost before one was measured here.
const INITIAL_ORIGIN_COST_MS = 10;
// A background refresh is nobody's call: no caller cancels it (the origin's
// timeout still bounds each request).
const NEVER = new AbortController().signal;

/**
 * GetFeatures: for every view asked for, its row of each entity through the
 * row engine (L1, then every L1 miss of every view in one round trip per
 * Redis node, then the view's origin for what is still missing, in one
 * batched call per view), with the status of each value judged now from
 * the row's event time.
 */
export class FeatureReader {
  readonly #deps: FeaturesDeps;
  readonly #plumbing = new WeakMap<FeatureView, ViewPlumbing>();
  readonly #keyMemo: KeyMemo;
  // Calls getNow prepared (rows parsed and hashed) but could not answer, by
  // their entity columns: get goes on with them rather than redo that work.
  readonly #unanswered = new WeakMap<
    readonly EntityColumnWire[],
    { readonly refNames: readonly string[]; readonly call: PreparedCall }
  >();

  constructor(deps: FeaturesDeps) {
    this.#deps = deps;
    this.#keyMemo = deps.keyMemo ?? new KeyMemo();
  }

  plumbing(view: FeatureView): ViewPlumbing {
    let p = this.#plumbing.get(view);
    if (p === undefined) {
      const { metrics } = this.#deps;
      const originCost = new CostAverage(INITIAL_ORIGIN_COST_MS);
      p = {
        kind: featureRowKind(view, this.#deps.l2Jitter),
        origin:
          view.origin === undefined
            ? undefined
            : new Origin(view, view.origin, (name, outcome, seconds) => {
                metrics.originCalls.labels(name, outcome).inc();
                metrics.originDuration.labels(name).observe(seconds);
                if (outcome === 'ok') originCost.add(seconds * 1000);
              }),
        fallbacks: new WeakMap(),
        originCost,
      };
      this.#plumbing.set(view, p);
    }
    return p;
  }

  /** The key of each entity row in `view`, under the view's current generation. */
  keys(view: FeatureView, rows: EntityRows, hashes: readonly string[] = this.hashes(rows)): string[] {
    return hashes.map(this.#keyMemo.scoped(this.#scope(view)));
  }

  /** The keys of rows being written to `view` (writeHasher's hashes), not remembered. */
  writeKeys(view: FeatureView, rows: EntityRows): string[] {
    const hasher = this.#deps.writeHasher ?? this.#deps.hasher;
    const scope = this.#scope(view);
    return rows.bytes.map((b) => cacheKey(scope, hasher(b)));
  }

  #scope(view: FeatureView): string {
    return keyScope(this.#deps.keyPrefix, 'f', view.name, `g${this.#deps.generation(`f:${view.name}`)}`);
  }

  /**
   * Each entity row's key hash: the same in every view that shares the join
   * keys. Rows of one join key are remembered by their id (the key memo's
   * bound), so an entity looked up again costs a Map probe on its id: no
   * bytes made, no string of them, no hash (about a third of a 1,000-row L1
   * answer's time in-process; bench get_features).
   */
  hashes(rows: EntityRows): string[] {
    const { hasher } = this.#deps;
    if (rows.idType === undefined) return rows.bytes.map((b) => hasher(b));
    const memo = this.#keyMemo.context(`${ID_CONTEXT}${rows.idType}`);
    const out = new Array<string>(rows.count);
    for (let i = 0; i < rows.count; i++) {
      const id = rows.id(i) as string | number;
      out[i] = memo.get(id) ?? memo.set(id, hasher(rows.bytes[i] as Buffer));
    }
    return out;
  }

  /** `lookup: false` keeps the call out of popularity (warming reads what is popular already). */
  async get(
    refNames: readonly string[],
    columns: readonly EntityColumnWire[],
    signal: AbortSignal,
    options: { readonly lookup?: boolean } = {},
  ): Promise<GetFeaturesResult> {
    // The handler gives get the very request getNow could not answer: what getNow prepared is reused.
    const held = this.#unanswered.get(columns);
    this.#unanswered.delete(columns);
    const call =
      held !== undefined && held.refNames === refNames
        ? held.call
        : this.#prepare(resolveRefs(this.#deps.views(), refNames), columns);
    const { views, rows, hashes, now } = call;
    if (options.lookup !== false) for (const view of views) this.#deps.onLookup?.(view, hashes, rows);
    const jobs = views.map((view) => this.#job(view, rows, hashes, now, signal));
    const results = await this.#deps.engine.runAll(jobs as unknown as RowJob<object>[]);
    return this.#answer(
      call,
      views.map((view, n) => {
        const result = results[n] as { values: FeatureRow[]; sources: RowSource[] };
        const { fallbacks } = this.plumbing(view);
        let stale: Set<number> | undefined;
        const sources = result.values.map((row, i): FeatureSource => {
          if (row.values === undefined) return 'none';
          const s = result.sources[i] as RowSource;
          if (s !== 'computed') return s;
          const tier = fallbacks.get(row);
          if (tier === undefined) return 'origin';
          stale ??= new Set();
          stale.add(i);
          return tier;
        });
        this.#refreshDue(view, rows, hashes, result.values, now, (i) => result.sources[i] !== 'computed');
        return { view, rows: result.values, sources, ...(stale === undefined ? {} : { stale }) };
      }),
    );
  }

  /**
   * get's answer when L1 holds every row of the one view asked for (fresh
   * enough, for a view with an origin, that the origin is not asked), or
   * undefined, having counted nothing: the synchronous answer of a call L1
   * covers, with no cancellation signal, timer or promise set up for it. It
   * does what get does before its first wait (get hashes every row without
   * yielding too), so it holds up the event loop no longer. Errors in the
   * request are thrown as get throws them. A call of several views goes the
   * asynchronous way: L1 counts and traces a lookup of all of a view's rows
   * when it answers, and a later view's miss would have the first view's
   * rows looked up, counted and traced again.
   */
  getNow(refNames: readonly string[], columns: readonly EntityColumnWire[]): GetFeaturesResult | undefined {
    const resolved = resolveRefs(this.#deps.views(), refNames);
    if (resolved.views.length !== 1) return undefined;
    const call = this.#prepare(resolved, columns);
    const { views, rows, hashes, now } = call;
    const view = views[0] as FeatureView;
    const { kind, origin } = this.plumbing(view);
    const values = this.#deps.engine.fromL1(
      kind,
      this.keys(view, rows, hashes),
      origin === undefined ? undefined : (row) => !isStale(row, view.maxAgeMs, now),
    );
    if (values === undefined) {
      this.#unanswered.set(columns, { refNames, call });
      return undefined;
    }
    this.#deps.onLookup?.(view, hashes, rows);
    this.#refreshDue(view, rows, hashes, values, now, () => true);
    const sources = values.map((row): FeatureSource => (row.values === undefined ? 'none' : 'l1'));
    return this.#answer(call, [{ view, rows: values, sources }]);
  }

  /**
   * Starts, in the background, the early refresh of the rows of a view with
   * an origin that were read from L1 or L2 (`cached`) and that XFetch says
   * are due, their expiry being the moment they pass max_age: one origin
   * call for all of them (max_batch entities per request), stored like rows
   * the origin gave to a call. Readers keep the cached rows meanwhile; a row
   * that passes max_age before the refresh ends waits for it rather than
   * ask the origin again. The caller's answer does not wait for it. None
   * starts while the origin's slots are all taken: a refresh is optional,
   * and one queued for a slot (it has no deadline of its own) would hold up
   * the calls that need the origin behind it, more of them the slower the
   * origin is.
   */
  #refreshDue(
    view: FeatureView,
    rows: EntityRows,
    hashes: readonly string[],
    values: readonly FeatureRow[],
    now: number,
    cached: (i: number) => boolean,
  ): void {
    const settings = this.#deps.earlyRefresh;
    if (view.origin === undefined || settings === undefined || settings.beta <= 0) return;
    const { origin, originCost } = this.plumbing(view);
    if (origin?.saturated) return;
    const deltaMs = originCost.ms;
    let due: number[] | undefined;
    let seen: Set<string> | undefined;
    for (let i = 0; i < values.length; i++) {
      const row = values[i] as FeatureRow;
      if (row.values === undefined) continue;
      const expiresAt = row.eventTime + view.maxAgeMs;
      if (!cached(i) || !refreshDue(now, expiresAt, deltaMs, settings.beta, settings.random)) continue;
      // An entity named twice is refreshed once.
      const hash = hashes[i] as string;
      seen ??= new Set();
      if (seen.has(hash)) continue;
      seen.add(hash);
      due ??= [];
      due.push(i);
    }
    if (due === undefined) return;
    const job = this.#job(view, rows, hashes, now, NEVER);
    void this.#deps.engine.refresh(job, due).then((r) => {
      if (r.rows > 0) settings.refreshed(r.rows, r.failed);
    });
  }

  /** What get and getNow read before any lookup: entity rows and their hashes, the time. */
  #prepare(
    { refs, views }: { refs: FeatureRef[]; views: FeatureView[] },
    columns: readonly EntityColumnWire[],
  ): PreparedCall {
    const first = views[0] as FeatureView;
    const rows = entityRows(first.joinKeys, columns, this.#deps.maxEntityRows);
    checkAnswerSize(refs, rows.count, this.#deps.maxAnswerBytes);
    return { refs, views, rows, hashes: this.hashes(rows), now: this.#deps.now() };
  }

  #answer(call: PreparedCall, views: ViewResult[]): GetFeaturesResult {
    for (const v of views) countServed(this.#deps.metrics, v, call.now);
    return { refs: call.refs, views, entities: call.rows.count, now: call.now };
  }

  #job(view: FeatureView, rows: EntityRows, hashes: readonly string[], now: number, signal: AbortSignal) {
    const { kind, origin, fallbacks } = this.plumbing(view);
    const keys = this.keys(view, rows, hashes);
    // Rows past max_age but within the view's stale grace, kept aside while
    // its origin is asked for fresh ones: served (STALE) if the origin fails.
    const stale = new Map<string, { row: FeatureRow; tier: Tier }>();
    const job: RowJob<FeatureRow> = {
      kind,
      keys,
      store: true,
      signal,
      storeIf: (row) => !fallbacks.has(row),
      ...(origin === undefined
        ? {}
        : {
            writeL2: (keys: readonly string[], rows: readonly FeatureRow[]) =>
              this.#writeOriginRows(kind, keys, rows),
            accept: (row: FeatureRow, key: string, tier: Tier) => {
              if (!isStale(row, view.maxAgeMs, now)) return true;
              if (withinGrace(row, view, now)) stale.set(key, { row, tier });
              return false;
            },
          }),
      compute: async (list, computeSignal, unreachable) => {
        const notFound: FeatureRow = { eventTime: 0, values: undefined, writtenAt: now };
        if (origin === undefined) {
          // A row whose Redis node did not answer may well exist: "not found"
          // would be a lie, and would be remembered.
          const lost = list.filter((i) => unreachable.has(i)).length;
          if (lost > 0) {
            throw new InferCacheError(
              'E_UNAVAILABLE',
              `Redis did not answer for ${lost} of ${rows.count} rows of view ${view.name}, which has no origin; retry`,
            );
          }
          return list.map(() => notFound);
        }
        const got = await origin.fetch(
          list.map((i) => rows.values(i)),
          computeSignal,
          now,
        );
        // Row by row: a row the origin failed to give is served from its
        // stale copy. One without a copy may well exist, and the answer has
        // no status for "unknown" (NOT_FOUND would be a lie, and would be
        // remembered), so the call fails as a whole.
        let failed: OriginError | undefined;
        const out = list.map((i, j): FeatureRow => {
          const answer = got[j];
          if (!(answer instanceof OriginError)) return answer ?? notFound;
          const old = stale.get(keys[i] as string);
          if (old === undefined) {
            failed ??= answer;
            return notFound;
          }
          fallbacks.set(old.row, old.tier);
          return old.row;
        });
        if (failed !== undefined)
          throw new InferCacheError('E_UNAVAILABLE', failed.message, { cause: failed });
        return out;
      },
    };
    return job;
  }

  /** Rows an origin answered, to L2 through newer-wins (NOT_FOUND memories stay in L1: their L2 ttl is 0). */
  #writeOriginRows(kind: CacheKind<FeatureRow>, keys: readonly string[], rows: readonly FeatureRow[]): void {
    const { door } = this.#deps;
    if (door.mode === 'none') return;
    const calls = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as FeatureRow;
      const ttlMs = kind.ttl(row).l2Ms;
      if (ttlMs > 0) calls.push(newerWinsCall(kind, keys[i] as string, row, ttlMs));
    }
    if (calls.length === 0) return;
    // The door answers a failed command as its outcome, counted per command
    // (infercache_redis_*); a row not stored is asked of the origin again.
    void this.#deps.door.evalMany('features_origin', NEWER_WINS, calls).catch(() => {});
  }
}
