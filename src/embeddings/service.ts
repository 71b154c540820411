import type { KeyMemo } from '../cache/key_memo.js';
import type { KeyHasher } from '../cache/keys.js';
import type { CacheKind } from '../cache/kind.js';
import type { RowSource as EngineSource, RowEngine } from '../cache/row_engine.js';
import { InferCacheError } from '../errors.js';
import type { NamedTensor } from '../model/pool.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { RunQueue } from '../model/run_queue.js';
import type { Metrics } from '../ops/metrics.js';
import { resolveVersion } from '../predict/model_catalog.js';
import { feedsOfRows, runModel, signatureInputs } from '../predict/model_run.js';
import { inputRowViews, rowKeys } from '../predict/row_keys.js';
import type { CacheControl } from '../predict/service.js';
import { type RowSource, SourceCounter } from '../predict/source_counter.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { embeddingKeys } from './embedding_keys.js';
import { type Embedding, type EmbeddingTtl, embeddingKind } from './embedding_kind.js';
import { type EmbeddingTarget, embeddingTarget } from './embedding_target.js';
import { readVector, storedVector } from './vectors.js';

export interface EmbedRequest {
  readonly inputs: ReadonlyMap<string, HostTensor>;
  /** Unit L2 norm. */
  readonly normalize: boolean;
  readonly cache: CacheControl;
  readonly deadline: number;
  readonly signal: AbortSignal;
}

export interface EmbedResult {
  readonly model: string;
  readonly version: string;
  readonly dim: number;
  /** rows × dim components, row-major. */
  readonly vectors: Float32Array;
  readonly rowSources: readonly RowSource[];
  readonly normalized: boolean;
  readonly storedAs: 'float32' | 'float16';
}

export interface EmbeddingDeps {
  readonly models: () => ReadonlyMap<string, Model>;
  readonly engine: RowEngine;
  readonly runs: RunQueue;
  readonly hasher: KeyHasher;
  /** Remembers each row's key (cache/key_memo.ts), shared with the other kinds. */
  readonly keyMemo: KeyMemo;
  readonly keyPrefix: string;
  readonly maxBatchRows: number;
  readonly ttl: EmbeddingTtl;
  readonly metrics: Metrics;
  /** The current generation of an invalidation scope; embeddings follow their model's ("p:<model>"). */
  readonly generation: (scope: string) => number;
}

const SOURCE: Record<EngineSource, RowSource> = { l1: 'l1', l2: 'l2', computed: 'model' };

/** Raw rows of the embedding output computed in this call, by row: shared by the variants a warm stores. */
type Computed = Map<number, Float32Array>;

/**
 * GetEmbeddings through the row engine: one vector per input row, cached
 * row by row (L1, one Redis round trip for the rest, one model run for what
 * is still missing). The key (embedding_keys.ts) covers the model, the
 * version and its file's digest, the output, normalisation and the stored
 * dtype: the same row asked with or without normalisation are two entries,
 * never one read as the other.
 */
export class EmbeddingService {
  readonly #deps: EmbeddingDeps;
  readonly #sources: SourceCounter;
  readonly #targets = new WeakMap<ReadyVersion, EmbeddingTarget | string>();
  readonly #kinds = new WeakMap<ReadyVersion, CacheKind<Embedding>>();

  constructor(deps: EmbeddingDeps) {
    this.#deps = deps;
    this.#sources = new SourceCounter(deps.metrics.embeddings.rows);
  }

  embed(req: EmbedRequest & { readonly model: string; readonly version: string }): Promise<EmbedResult> {
    return this.embedOn(resolveVersion(this.#deps.models(), req.model, req.version), req);
  }

  /** The version's embedding output, or why it has none. */
  targetOf(mv: ReadyVersion): EmbeddingTarget | string {
    let target = this.#targets.get(mv);
    if (target === undefined) {
      target = embeddingTarget(mv);
      this.#targets.set(mv, target);
    }
    return target;
  }

  async embedOn(mv: ReadyVersion, req: EmbedRequest): Promise<EmbedResult> {
    const target = this.#target(mv);
    const result = await this.#rows(mv, target, req, req.normalize, new Map());
    this.#sources.count(mv.name, result.rowSources);
    return result;
  }

  /**
   * Stores both variants (raw and normalised) of the rows, from one model
   * run: what warming does, not knowing which one callers will ask for.
   */
  async warmOn(mv: ReadyVersion, req: Omit<EmbedRequest, 'normalize'>): Promise<void> {
    const target = this.targetOf(mv);
    if (typeof target === 'string') return;
    const computed: Computed = new Map();
    // A run takes its feeds' buffers (they move to the worker, see model/pool.ts),
    // and the second pass still needs the input bytes for its keys: the run gets copies.
    const copies = new Map([...req.inputs].map(([name, t]) => [name, { ...t, data: Buffer.from(t.data) }]));
    await this.#rows(mv, target, { ...req, inputs: copies, normalize: false }, false, computed);
    await this.#rows(mv, target, { ...req, normalize: true }, true, computed);
  }

  /** The cache kind of a version's vectors, for values read back from a snapshot. */
  kindFor(mv: ReadyVersion): CacheKind<Embedding> | undefined {
    const target = this.targetOf(mv);
    return typeof target === 'string' ? undefined : this.#kindOf(mv, target);
  }

  async #rows(
    mv: ReadyVersion,
    target: EmbeddingTarget,
    req: EmbedRequest,
    normalize: boolean,
    computed: Computed,
  ): Promise<EmbedResult> {
    const { rows, inputs } = signatureInputs(mv, req.inputs, this.#deps.maxBatchRows);
    const half = target.storeAs === 'float16';
    const make = (row: Float32Array, at: number) => {
      const stored = storedVector(row, normalize, half, at);
      if (!stored.fitted) this.#deps.metrics.embeddings.float32Kept.labels(mv.name).inc();
      return stored.value;
    };
    const views = inputRowViews(inputs);
    const compute = async (list: readonly number[]): Promise<Embedding[]> => {
      const missing = list.filter((r) => !computed.has(r));
      if (missing.length > 0) {
        const outputs = await runModel(
          this.#deps,
          mv,
          feedsOfRows(inputs, views, missing, rows),
          missing.length,
          req,
        );
        const raw = floats(outputs[target.output] as NamedTensor);
        missing.forEach((r, k) => {
          computed.set(r, raw.subarray(k * target.dim, (k + 1) * target.dim));
        });
      }
      const now = Date.now();
      return list.map((r) => make(computed.get(r) as Float32Array, now));
    };
    let values: readonly Embedding[];
    let sources: readonly RowSource[];
    if (req.cache.bypass) {
      values = await compute(Array.from({ length: rows }, (_, r) => r));
      sources = new Array<RowSource>(rows).fill('model');
    } else {
      const ctx = embeddingKeys(this.#deps, mv, target, normalize);
      const maxAgeMs = req.cache.maxAgeMs;
      const result = await this.#deps.engine.run({
        kind: this.#kindOf(mv, target),
        keys: await rowKeys(ctx, inputs, rows),
        store: !req.cache.noStore,
        ...(maxAgeMs > 0 ? { accept: (e: Embedding) => Date.now() - e.createdAt <= maxAgeMs } : {}),
        signal: req.signal,
        compute,
      });
      values = result.values;
      sources = result.sources.map((s) => SOURCE[s]);
    }
    const vectors = new Float32Array(rows * target.dim);
    for (let r = 0; r < values.length; r++) readVector(values[r] as Embedding, vectors, r * target.dim);
    return {
      model: mv.name,
      version: mv.version,
      dim: target.dim,
      vectors,
      rowSources: sources,
      normalized: normalize,
      storedAs: target.storeAs,
    };
  }

  #target(mv: ReadyVersion): EmbeddingTarget {
    const target = this.targetOf(mv);
    if (typeof target === 'string') {
      throw new InferCacheError(
        'E_NOT_AN_EMBEDDING_MODEL',
        `model ${mv.name} version ${mv.version} gives no embeddings: ${target}`,
      );
    }
    return target;
  }

  #kindOf(mv: ReadyVersion, target: EmbeddingTarget): CacheKind<Embedding> {
    let kind = this.#kinds.get(mv);
    if (kind === undefined) {
      kind = embeddingKind(target.dim, this.#deps.ttl);
      this.#kinds.set(mv, kind);
    }
    return kind;
  }
}

/** A float32 output's data as floats (copied when its bytes are not 4-byte aligned). */
function floats(t: NamedTensor): Float32Array {
  const data = t.data.byteOffset % 4 === 0 ? t.data : Buffer.from(t.data);
  return new Float32Array(data.buffer, data.byteOffset, data.length / 4);
}
