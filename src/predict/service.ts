import type { CacheEntry } from '../cache/entry.js';
import type { KeyHasher } from '../cache/keys.js';
import { SingleFlight } from '../cache/single_flight.js';
import type { TieredCache } from '../cache/tiered.js';
import { InferCacheError } from '../errors.js';
import type { InferencePool, NamedTensor } from '../model/pool.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import { validateInputs } from '../model/validate.js';
import type { Metrics } from '../ops/metrics.js';
import { canonicalizeInPlace } from '../tensor/canonical.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { stackRows } from '../tensor/rows.js';
import { resolveVersion } from './model_catalog.js';
import { inputRowViews, type KeyContext, rowKeys, wholeKey } from './row_keys.js';
import type { RowSource } from './source_counter.js';
import { SourceCounter } from './source_counter.js';
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
}

export interface PredictResult {
  readonly model: string;
  readonly version: string;
  readonly outputs: readonly NamedTensor[];
  readonly rowSources: readonly RowSource[];
  readonly rowCached: boolean;
}

/** What one request's row runs share. */
interface RowJob {
  readonly mv: ReadyVersion;
  readonly inputs: readonly (readonly [string, HostTensor])[];
  readonly views: readonly Buffer[][];
  readonly keys: readonly string[];
  readonly entries: (CacheEntry | undefined)[];
  readonly noStore: boolean;
  readonly deadline: number;
}

export interface PredictDeps {
  readonly models: () => ReadonlyMap<string, Model>;
  readonly cache: TieredCache;
  readonly pool: InferencePool;
  readonly hasher: KeyHasher;
  readonly keyPrefix: string;
  readonly maxBatchRows: number;
  readonly metrics: Metrics;
}

/**
 * Predict, cached row by row: hits from L1, one Redis round trip for the L1
 * misses, one model run for what is still missing (rows another request is
 * already computing are awaited, not run twice), then the response in the
 * request's order.
 */
export class PredictService {
  readonly #deps: PredictDeps;
  readonly #flight = new SingleFlight<CacheEntry>();

  readonly #sources: SourceCounter;

  constructor(deps: PredictDeps) {
    this.#deps = deps;
    this.#sources = new SourceCounter(deps.metrics);
  }

  async predict(req: PredictRequest): Promise<PredictResult> {
    const mv = resolveVersion(this.#deps.models(), req.model, req.version);
    const rows = validateInputs(mv.name, mv.signature, req.inputs, { maxBatchRows: this.#deps.maxBatchRows });
    // Signature order, so the same inputs sent in any order hash alike.
    const inputs = mv.signature.inputs.map((s) => {
      const t = req.inputs.get(s.name) as HostTensor;
      canonicalizeInPlace(t);
      return [s.name, t] as const;
    });
    const ctx: KeyContext = {
      prefix: this.#deps.keyPrefix,
      hasher: this.#deps.hasher,
      model: mv.name,
      version: mv.version,
      digest: mv.digest,
    };
    const result = mv.signature.rowCacheable
      ? await this.#predictRows(mv, ctx, inputs, rows, req.cache, req.deadline)
      : await this.#predictWhole(mv, ctx, inputs, req.cache, req.deadline);
    this.#sources.count(mv.name, result.rowSources);
    return result;
  }

  async #predictRows(
    mv: ReadyVersion,
    ctx: KeyContext,
    inputs: readonly (readonly [string, HostTensor])[],
    rows: number,
    cache: CacheControl,
    deadline: number,
  ): Promise<PredictResult> {
    // A bypass never reads or writes the cache: its rows need no keys.
    if (cache.bypass) return this.#runRowsUncached(mv, inputs, rows, deadline);
    const views = inputRowViews(inputs);
    const keys = await rowKeys(ctx, inputs, views, rows);
    const hits = await this.#deps.cache.getMany('p', keys, cache.maxAgeMs);
    const entries: (CacheEntry | undefined)[] = hits.map((h) => h?.entry);
    const sources: RowSource[] = hits.map((h) => h?.tier ?? 'model');

    // Rows to run: first occurrence of each missing key not already in flight.
    const toRun: number[] = [];
    const retry: number[] = [];
    const waits: Promise<void>[] = [];
    const firstRow = new Map<string, number>();
    for (let r = 0; r < rows; r++) {
      if (entries[r] !== undefined) continue;
      const key = keys[r] as string;
      if (firstRow.has(key)) continue;
      firstRow.set(key, r);
      const pending = this.#flight.pending(key);
      if (pending === undefined) toRun.push(r);
      // Never rejects: if the other request's run fails (its own deadline,
      // say), this request runs the row itself rather than inherit the error.
      else
        waits.push(
          pending.then(
            (e) => {
              entries[r] = e;
            },
            () => {
              retry.push(r);
            },
          ),
        );
    }
    const job: RowJob = { mv, inputs, views, keys, entries, noStore: cache.noStore, deadline };
    if (toRun.length === rows) {
      // Every row missing: the request's tensors are the batch, no restacking,
      // and the run's outputs are the response.
      const outputs = await this.#runRows(job, toRun, true);
      return { model: mv.name, version: mv.version, outputs, rowSources: sources, rowCached: true };
    }
    try {
      if (toRun.length > 0) await this.#runRows(job, toRun, false);
    } finally {
      await Promise.all(waits);
    }
    if (retry.length > 0) await this.#runRows(job, retry, false);
    for (let r = 0; r < rows; r++) {
      if (entries[r] === undefined) entries[r] = entries[firstRow.get(keys[r] as string) as number];
    }
    const outputs = mv.signature.outputs.map((spec, j) => {
      const first = (entries[0] as CacheEntry).tensors[j] as HostTensor;
      const rowData = entries.map((e) => ((e as CacheEntry).tensors[j] as HostTensor).data);
      return { name: spec.name, ...stackRows(first.dtype, first.dims, rowData) };
    });
    return { model: mv.name, version: mv.version, outputs, rowSources: sources, rowCached: true };
  }

  /**
   * Runs the given rows in one model run, claims them for single-flight,
   * fills `job.entries` and stores the new rows. `whole` means the rows are
   * the entire request, in order, so its tensors are fed as they are.
   */
  async #runRows(job: RowJob, list: readonly number[], whole: boolean): Promise<NamedTensor[]> {
    const runKeys = list.map((r) => job.keys[r] as string);
    const claim = this.#flight.claim(runKeys);
    try {
      const feeds = whole
        ? job.inputs.map(([name, t]) => ({ name, ...t }))
        : job.inputs.map(([name, t], i) => ({
            name,
            ...stackRows(
              t.dtype,
              t.dims.slice(1),
              list.map((r) => (job.views[i] as Buffer[])[r] as Buffer),
            ),
          }));
      const outputs = await this.#run(job.mv, feeds, list.length, job.deadline);
      const computed = splitRows(outputs, Date.now());
      list.forEach((r, j) => {
        job.entries[r] = computed[j];
        claim.resolve(runKeys[j] as string, computed[j] as CacheEntry);
      });
      if (!job.noStore) this.#deps.cache.setMany(runKeys, computed);
      return outputs;
    } catch (error) {
      claim.reject(error);
      throw error;
    }
  }

  /** A bypass of a row-cacheable model: one run of the request as it is. */
  async #runRowsUncached(
    mv: ReadyVersion,
    inputs: readonly (readonly [string, HostTensor])[],
    rows: number,
    deadline: number,
  ): Promise<PredictResult> {
    const feeds = inputs.map(([name, t]) => ({ name, ...t }));
    const outputs = await this.#run(mv, feeds, rows, deadline);
    const rowSources = new Array<RowSource>(rows).fill('model');
    return { model: mv.name, version: mv.version, outputs, rowSources, rowCached: true };
  }

  async #predictWhole(
    mv: ReadyVersion,
    ctx: KeyContext,
    inputs: readonly (readonly [string, HostTensor])[],
    cache: CacheControl,
    deadline: number,
  ): Promise<PredictResult> {
    const key = wholeKey(ctx, inputs);
    const hit = cache.bypass ? undefined : (await this.#deps.cache.getMany('p', [key], cache.maxAgeMs))[0];
    let entry = hit?.entry;
    if (entry === undefined) {
      const outputs = await this.#run(
        mv,
        inputs.map(([name, t]) => ({ name, ...t })),
        undefined,
        deadline,
      );
      entry = { createdAt: Date.now(), tensors: outputs };
      if (!cache.bypass && !cache.noStore) this.#deps.cache.setMany([key], [entry]);
    }
    const outputs = mv.signature.outputs.map((spec, j) => ({
      name: spec.name,
      ...(entry.tensors[j] as HostTensor),
    }));
    return {
      model: mv.name,
      version: mv.version,
      outputs,
      rowSources: [hit?.tier ?? 'model'],
      rowCached: false,
    };
  }

  /** One model run; with `rows` set, every output must have that many rows. */
  async #run(
    mv: ReadyVersion,
    feeds: NamedTensor[],
    rows: number | undefined,
    deadline: number,
  ): Promise<NamedTensor[]> {
    const { metrics, pool } = this.#deps;
    const stop = metrics.inferenceDuration.labels(mv.name).startTimer();
    try {
      const outputs = await pool.run(
        mv.path,
        feeds,
        mv.signature.outputs.map((o) => o.name),
        deadline,
      );
      metrics.inferenceBatchRows.labels(mv.name).observe(rows ?? 1);
      if (rows !== undefined) {
        for (const o of outputs) {
          if (o.dims[0] !== rows) {
            throw new InferCacheError(
              'E_INFERENCE_FAILED',
              `model ${mv.name}:${mv.version} output "${o.name}" has ${o.dims[0]} rows for ${rows} input rows; ` +
                'set "rowCacheable": false in its model.json',
            );
          }
        }
      }
      return outputs;
    } catch (error) {
      const reason = error instanceof InferCacheError ? error.code : 'E_INFERENCE_FAILED';
      metrics.inferenceErrors.labels(mv.name, reason).inc();
      throw error;
    } finally {
      stop();
    }
  }
}
