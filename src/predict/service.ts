import { CostAverage, refreshDue } from '../cache/early_refresh.js';
import type { KeyMemo } from '../cache/key_memo.js';
import { type KeyHasher, keyScope } from '../cache/keys.js';
import type { CacheKind } from '../cache/kind.js';
import type { RowSource as EngineSource, RowEngine } from '../cache/row_engine.js';
import type { NamedTensor } from '../model/pool.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { RunQueue } from '../model/run_queue.js';
import type { Metrics } from '../ops/metrics.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { StackedRows } from '../tensor/rows.js';
import { AutoBypass, type AutoBypassSettings } from './auto_bypass.js';
import { resolveVersion } from './model_catalog.js';
import { feedsOf, feedsOfRows, type Inputs, runModel, signatureInputs } from './model_run.js';
import { type Prediction, type PredictionTtl, predictionKind } from './prediction_kind.js';
import {
  inputRowViews,
  type KeyContext,
  ROWS_PER_SLICE_MAX,
  rowKeys,
  rowKeysNow,
  wholeKey,
} from './row_keys.js';
import { RowLayouts } from './row_layout.js';
import { type RowSource, SourceCounter } from './source_counter.js';
import { splitRows } from './split_rows.js';

export type { RowSource } from './source_counter.js';

export interface CacheControl {
  readonly bypass: boolean;
  readonly noStore: boolean;
  readonly maxAgeMs: number;
}

export interface PredictRequest {
  readonly model: string;
  readonly version: string;
  readonly inputs: ReadonlyMap<string, HostTensor>;
  readonly cache: CacheControl;
  /** Epoch ms after which nobody waits for the answer; no model run starts past it. */
  readonly deadline: number;
  /** Fires when the caller stops waiting; reaches the cache, single-flight and the run queue. */
  readonly signal: AbortSignal;
}

/** A request for a version already resolved (Predict by entity pins it to read its mapping). */
export type PinnedRequest = Omit<PredictRequest, 'model' | 'version'>;

export interface PredictResult {
  readonly model: string;
  readonly version: string;
  readonly outputs: readonly NamedTensor[];
  readonly rowSources: readonly RowSource[];
  readonly rowCached: boolean;
}

export interface PredictDeps {
  readonly models: () => ReadonlyMap<string, Model>;
  readonly engine: RowEngine;
  readonly runs: RunQueue;
  readonly hasher: KeyHasher;
  /** Remembers each row's key (cache/key_memo.ts): shared by every kind, one bound for all. */
  readonly keyMemo: KeyMemo;
  readonly keyPrefix: string;
  readonly maxBatchRows: number;
  readonly ttl: PredictionTtl;
  readonly metrics: Metrics;
  /** The current generation of an invalidation scope (coherence/scopes.ts); 0 when none moved it. */
  readonly generation: (scope: string) => number;
  /** Early refresh (cache/early_refresh.ts): its beta (0: off), and how long a stored row lives at least. */
  readonly earlyRefresh: { readonly beta: number; readonly lifetimeMs: number };
  /** Auto-bypass (auto_bypass.ts): its settings (hitRatio 0: off) and what an L2 lookup round trip costs. */
  readonly autoBypass: {
    readonly settings: AutoBypassSettings;
    readonly roundTripMs: () => number | undefined;
    readonly now?: () => number;
  };
}

const SOURCE: Record<EngineSource, RowSource> = { l1: 'l1', l2: 'l2', computed: 'model' };

/** The cache kinds of one model version (per row, and for requests cached whole), and its key scope. */
interface VersionKinds {
  readonly rows: CacheKind<Prediction>;
  readonly whole: CacheKind<Prediction>;
  /** Its invalidation scopes: the model's, and the version's. */
  readonly scopes: readonly [string, string];
  /** The key scope last built, and the generations it was built for. */
  scope: { readonly model: number; readonly version: number; readonly text: string } | undefined;
  /** The row layout it was last called with (row_layout.ts). */
  readonly layouts: RowLayouts;
  /** What one of its runs costs (ms), for early refresh and auto-bypass. */
  readonly runCost: CostAverage;
  /** Whether caching it pays; undefined when auto-bypass is off. */
  readonly auto: AutoBypass | undefined;
  /** Its count of auto-bypassed rows. */
  readonly bypassedRows: { inc(n: number): void };
}

// A run's cost before one was measured here (its rows may all come from L2).
const INITIAL_RUN_COST_MS = 10;
// A background refresh is nobody's call: no caller cancels it, and it gives up after this.
const REFRESH_DEADLINE_MS = 30_000;
const NEVER = new AbortController().signal;
const BYPASS: CacheControl = { bypass: true, noStore: true, maxAgeMs: 0 };

/** Most rows a request may have to be answered from L1 without yielding (the hashing of more yields). */
const NOW_MAX_ROWS = ROWS_PER_SLICE_MAX;

/** A Predict by inputs, as the synchronous L1 answer takes it. */
export type PredictNowRequest = Pick<PredictRequest, 'model' | 'version' | 'inputs' | 'cache'>;

/**
 * Predict through the row engine: a batch is cached row by row (hits from
 * L1, one Redis round trip for the rest, one model run for what is still
 * missing), and the response comes back in the request's order. The version
 * is pinned when the request starts: its rows are read and written under
 * that version's keys only.
 */
export class PredictService {
  readonly #deps: PredictDeps;
  readonly #sources: SourceCounter;
  readonly #kinds = new WeakMap<ReadyVersion, VersionKinds>();

  constructor(deps: PredictDeps) {
    this.#deps = deps;
    this.#sources = new SourceCounter(deps.metrics.model.rowsServed);
  }

  async predict(req: PredictRequest): Promise<PredictResult> {
    return this.predictOn(resolveVersion(this.#deps.models(), req.model, req.version), req);
  }

  /**
   * The answer when every row of a row-cached request is in L1, computed
   * synchronously: no promise, no cancellation signal, no timer, which is
   * most of what a hit would otherwise cost beyond gRPC itself. Undefined
   * when anything is missing or the request is not of that kind (bypass, a
   * model cached whole, more rows than are hashed in one go): the caller then
   * goes through predict(), which counts its own lookups. Bad input throws
   * as predict() would.
   */
  predictNow(req: PredictNowRequest): PredictResult | undefined {
    if (req.cache.bypass) return undefined;
    const mv = resolveVersion(this.#deps.models(), req.model, req.version);
    if (!mv.signature.rowCacheable) return undefined;
    const auto = this.#kindsOf(mv).auto;
    if (auto?.bypassing()) return undefined;
    // Before the inputs are checked and canonicalised: a larger request goes
    // through predict(), which does both, and they walk every element.
    if ((req.inputs.get(mv.signature.inputs[0]?.name ?? '')?.dims[0] ?? 0) > NOW_MAX_ROWS) return undefined;
    const { rows, inputs } = signatureInputs(mv, req.inputs, this.#deps.maxBatchRows);
    if (rows > NOW_MAX_ROWS) return undefined;
    const keys = rowKeysNow(this.#keyContext(mv), inputs, rows);
    const outputs = this.#allFromL1(mv, keys, inputs, rows, req.cache);
    if (outputs === undefined) return undefined;
    const rowSources = new Array<RowSource>(rows).fill('l1');
    this.#sources.count(mv.name, rowSources);
    auto?.observe(rows, rows);
    return { model: mv.name, version: mv.version, outputs, rowSources, rowCached: true };
  }

  /**
   * The outputs of rows that L1 holds every one of (refreshing those due
   * early), or undefined: an answer without the row engine's per-row
   * bookkeeping for tiers, single-flight and computation.
   */
  #allFromL1(
    mv: ReadyVersion,
    keys: readonly string[],
    inputs: Inputs,
    rows: number,
    cache: PinnedRequest['cache'],
  ): NamedTensor[] | undefined {
    const values = this.#deps.engine.fromL1(this.#kindsOf(mv).rows, keys, maxAge(cache.maxAgeMs));
    if (values === undefined) return undefined;
    if (!cache.noStore) this.#refreshDue(mv, keys, values, inputs, undefined, rows);
    return stacked(mv, values);
  }

  async predictOn(mv: ReadyVersion, pinned: PinnedRequest): Promise<PredictResult> {
    const { rows, inputs } = signatureInputs(mv, pinned.inputs, this.#deps.maxBatchRows);
    const kinds = this.#kindsOf(mv);
    // A caller's own bypass is neither a sign of the version's hit ratio nor an auto-bypassed row.
    const auto = pinned.cache.bypass ? undefined : kinds.auto;
    const bypassed = auto?.bypassing() === true;
    const req = bypassed ? { ...pinned, cache: BYPASS } : pinned;
    const ctx = this.#keyContext(mv);
    const result = mv.signature.rowCacheable
      ? await this.#predictRows(mv, ctx, inputs, rows, req)
      : await this.#predictWhole(mv, ctx, inputs, req);
    this.#sources.count(mv.name, result.rowSources);
    if (bypassed) kinds.bypassedRows.inc(rows);
    else if (auto !== undefined) {
      let hits = 0;
      for (const s of result.rowSources) if (s !== 'model') hits++;
      auto.observe(result.rowSources.length, hits);
    }
    return result;
  }

  /** Whether the version is auto-bypassed now (ListModels): from the window that decided it to its recheck. */
  autoBypassed(mv: ReadyVersion): boolean {
    return this.#kinds.get(mv)?.auto?.bypassed === true;
  }

  async #predictRows(
    mv: ReadyVersion,
    ctx: KeyContext,
    inputs: Inputs,
    rows: number,
    req: PinnedRequest,
  ): Promise<PredictResult> {
    const done = (outputs: readonly NamedTensor[], rowSources: RowSource[]): PredictResult => ({
      model: mv.name,
      version: mv.version,
      outputs,
      rowSources,
      rowCached: true,
    });
    // A bypass never reads or writes the cache: its rows need no keys.
    if (req.cache.bypass) {
      const outputs = await this.#run(mv, feedsOf(inputs), rows, req);
      return done(outputs, new Array<RowSource>(rows).fill('model'));
    }
    const keys = await rowKeys(ctx, inputs, rows);
    // Every row in L1 (checked after the hashing, which yielded): answered as predictNow answers.
    const all = this.#allFromL1(mv, keys, inputs, rows, req.cache);
    if (all !== undefined) return done(all, new Array<RowSource>(rows).fill('l1'));
    // Row views only for rows that are run (or refreshed): an all-hit batch needs none.
    let views: Buffer[][] | undefined;
    const viewsOf = (): Buffer[][] => {
      if (views === undefined) views = inputRowViews(inputs);
      return views;
    };
    // When every row is missing, the request's tensors are the batch (no
    // restacking) and the run's outputs are the response.
    let asRequested: NamedTensor[] | undefined;
    const result = await this.#deps.engine.run({
      kind: this.#kindsOf(mv).rows,
      keys,
      store: !req.cache.noStore,
      accept: maxAge(req.cache.maxAgeMs),
      signal: req.signal,
      compute: async (list) => {
        const feeds = list.length === rows ? feedsOf(inputs) : feedsOfRows(inputs, viewsOf(), list, rows);
        const outputs = await this.#run(mv, feeds, list.length, req);
        if (list.length === rows) asRequested = outputs;
        return splitRows(outputs, Date.now());
      },
    });
    if (!req.cache.noStore) {
      const cached = result.values.map((v, r) => (result.sources[r] === 'computed' ? undefined : v));
      this.#refreshDue(mv, keys, cached, inputs, views, rows);
    }
    const rowSources = result.sources.map((s) => SOURCE[s]);
    if (asRequested !== undefined) return done(asRequested, rowSources);
    return done(stacked(mv, result.values), rowSources);
  }

  async #predictWhole(
    mv: ReadyVersion,
    ctx: KeyContext,
    inputs: Inputs,
    req: PinnedRequest,
  ): Promise<PredictResult> {
    const toOutputs = (tensors: readonly HostTensor[]): NamedTensor[] =>
      mv.signature.outputs.map((spec, j) => ({ name: spec.name, ...(tensors[j] as HostTensor) }));
    // A bypass never reads or writes the cache: its request needs no key.
    if (req.cache.bypass) {
      const outputs = await this.#run(mv, feedsOf(inputs), undefined, req);
      return { model: mv.name, version: mv.version, outputs, rowSources: ['model'], rowCached: false };
    }
    const result = await this.#deps.engine.run({
      kind: this.#kindsOf(mv).whole,
      keys: [wholeKey(ctx, inputs)],
      store: !req.cache.noStore,
      accept: maxAge(req.cache.maxAgeMs),
      signal: req.signal,
      compute: async () => [
        { createdAt: Date.now(), tensors: await this.#run(mv, feedsOf(inputs), undefined, req) },
      ],
    });
    const entry = result.values[0] as Prediction;
    const source = SOURCE[result.sources[0] ?? 'computed'];
    return {
      model: mv.name,
      version: mv.version,
      outputs: toOutputs(entry.tensors as readonly HostTensor[]),
      rowSources: [source],
      rowCached: false,
    };
  }

  /**
   * The version's key context, read when the request starts: its scope holds
   * the version and the generations of the model and of the version, and is
   * built again only when one of those generations moved.
   */
  #keyContext(mv: ReadyVersion): KeyContext {
    const kinds = this.#kindsOf(mv);
    const { generation } = this.#deps;
    const model = generation(kinds.scopes[0]);
    const version = generation(kinds.scopes[1]);
    let scope = kinds.scope;
    if (scope === undefined || scope.model !== model || scope.version !== version) {
      const text = keyScope(this.#deps.keyPrefix, 'p', mv.name, `${mv.version}:g${model}.${version}`);
      scope = { model, version, text };
      kinds.scope = scope;
    }
    return {
      scope: scope.text,
      memo: this.#deps.keyMemo,
      hasher: this.#deps.hasher,
      digest: mv.digest,
      layouts: kinds.layouts,
    };
  }

  /** The cache kind of a version's stored values (per row, or whole requests). */
  kindFor(mv: ReadyVersion): CacheKind<Prediction> {
    const kinds = this.#kindsOf(mv);
    return mv.signature.rowCacheable ? kinds.rows : kinds.whole;
  }

  #kindsOf(mv: ReadyVersion): VersionKinds {
    let kinds = this.#kinds.get(mv);
    if (kinds === undefined) {
      const runCost = new CostAverage(INITIAL_RUN_COST_MS);
      kinds = {
        rows: predictionKind(mv.signature.outputs, true, this.#deps.ttl),
        whole: predictionKind(mv.signature.outputs, false, this.#deps.ttl),
        scopes: [`p:${mv.name}`, `p:${mv.name}@${mv.version}`],
        scope: undefined,
        layouts: new RowLayouts(),
        runCost,
        auto: this.#autoBypassOf(mv, runCost),
        bypassedRows: this.#deps.metrics.model.autoBypassedRows.labels(mv.name),
      };
      this.#kinds.set(mv, kinds);
    }
    return kinds;
  }

  #autoBypassOf(mv: ReadyVersion, runCost: CostAverage): AutoBypass | undefined {
    const { settings, roundTripMs, now = Date.now } = this.#deps.autoBypass;
    if (!(settings.hitRatio > 0)) return undefined;
    const gauge = this.#deps.metrics.model.autoBypassed.labels(mv.name, mv.version);
    gauge.set(0);
    return new AutoBypass(settings, { runMs: () => runCost.ms, roundTripMs }, now, (on) =>
      gauge.set(on ? 1 : 0),
    );
  }

  async #run(
    mv: ReadyVersion,
    feeds: NamedTensor[],
    rows: number | undefined,
    req: PinnedRequest,
  ): Promise<NamedTensor[]> {
    const started = performance.now();
    const outputs = await runModel(this.#deps, mv, feeds, rows, req);
    this.#kindsOf(mv).runCost.add(performance.now() - started);
    return outputs;
  }

  /**
   * Starts, in the background, the early refresh of the cached rows (values
   * undefined for rows just computed) that XFetch says are due: one run for
   * all of them, stored like any computed row. The caller's answer does not
   * wait for it.
   */
  #refreshDue(
    mv: ReadyVersion,
    keys: readonly string[],
    values: readonly (Prediction | undefined)[],
    inputs: Inputs,
    views: readonly Buffer[][] | undefined,
    rows: number,
  ): void {
    const { beta, lifetimeMs } = this.#deps.earlyRefresh;
    if (beta <= 0) return;
    const kinds = this.#kindsOf(mv);
    const now = Date.now();
    const due: number[] = [];
    for (let r = 0; r < values.length; r++) {
      const v = values[r];
      if (v !== undefined && refreshDue(now, v.createdAt + lifetimeMs, kinds.runCost.ms, beta)) due.push(r);
    }
    if (due.length === 0) return;
    const rowViews = views ?? inputRowViews(inputs);
    const background: PinnedRequest = {
      inputs: new Map(),
      cache: { bypass: false, noStore: false, maxAgeMs: 0 },
      deadline: now + REFRESH_DEADLINE_MS,
      signal: NEVER,
    };
    const refreshed = this.#deps.engine.refresh(
      {
        kind: kinds.rows,
        keys,
        store: true,
        signal: NEVER,
        compute: async (list) =>
          splitRows(
            await this.#run(mv, feedsOfRows(inputs, rowViews, list, rows), list.length, background),
            Date.now(),
          ),
      },
      due,
    );
    const counted = this.#deps.metrics.cache.earlyRefreshes;
    void refreshed.then((r) => {
      if (r.rows > 0) counted.labels('p', r.failed ? 'failed' : 'ok').inc(r.rows);
    });
  }
}

/** Per output, the rows' values stacked on a new axis 0, in row order. */
function stacked(mv: ReadyVersion, values: readonly Prediction[]): NamedTensor[] {
  return mv.signature.outputs.map((spec, j) => {
    const first = (values[0] as Prediction).tensors[j] as HostTensor;
    if (values.length === 1)
      return { name: spec.name, dtype: first.dtype, dims: [1, ...first.dims], data: first.data };
    const rowData = values.map((p) => (p.tensors[j] as HostTensor).data);
    return new StackedRows(spec.name, first.dtype, first.dims, rowData);
  });
}

function maxAge(maxAgeMs: number): ((p: Prediction) => boolean) | undefined {
  if (maxAgeMs <= 0) return undefined;
  return (p) => Date.now() - p.createdAt <= maxAgeMs;
}
