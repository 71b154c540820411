import { InferCacheError } from '../errors.js';
import type { EntityColumnWire } from '../features/entity_keys.js';
import type { ReadyVersion } from '../model/registry.js';
import { type EntityBatchDeps, entityBatch } from '../predict/entity_batch.js';
import type { RowStatus } from '../predict/entity_rows.js';
import type { EntityRowSource } from '../predict/entity_service.js';
import { resolveVersion } from '../predict/model_catalog.js';
import type { CacheControl } from '../predict/service.js';
import type { EmbeddingService, EmbedResult } from './service.js';

export interface EntityEmbedRequest {
  readonly model: string;
  readonly version: string;
  readonly entities: readonly EntityColumnWire[];
  readonly normalize: boolean;
  readonly cache: CacheControl;
  readonly deadline: number;
  readonly signal: AbortSignal;
}

export interface EntityEmbedResult extends Omit<EmbedResult, 'rowSources'> {
  /** One per entity row; 'none' where the row could not be built (see its status). */
  readonly rowSources: readonly EntityRowSource[];
  readonly rowStatuses: readonly RowStatus[];
}

export interface EntityEmbeddingDeps extends EntityBatchDeps {
  readonly embeddings: EmbeddingService;
}

/**
 * GetEmbeddings by entity: the model's input rows built from the entities'
 * features (predict/entity_batch.ts, through the feature cache), their
 * vectors through EmbeddingService, and zero vectors with ROW_SOURCE_NONE
 * for entities whose row could not be built.
 */
export class EntityEmbeddingService {
  readonly #deps: EntityEmbeddingDeps;

  constructor(deps: EntityEmbeddingDeps) {
    this.#deps = deps;
  }

  async embed(req: EntityEmbedRequest): Promise<EntityEmbedResult> {
    // The version is pinned and checked for an embedding output before any feature is read.
    const mv = resolveVersion(this.#deps.models(), req.model, req.version);
    const target = this.#deps.embeddings.targetOf(mv);
    if (typeof target === 'string') {
      throw new InferCacheError(
        'E_NOT_AN_EMBEDDING_MODEL',
        `model ${mv.name} version ${mv.version} gives no embeddings: ${target}`,
      );
    }
    const { built, at, statuses } = await entityBatch(this.#deps, { ...req, version: mv.version });
    const result =
      built.ok.length === 0
        ? undefined
        : await this.#deps.embeddings.embedOn(mv, {
            inputs: built.inputs,
            normalize: req.normalize,
            cache: req.cache,
            deadline: req.deadline,
            signal: req.signal,
          });
    const dim = target.dim;
    let vectors = result?.vectors ?? new Float32Array(0);
    if (result === undefined || !at.every((k, i) => k === i)) {
      vectors = new Float32Array(at.length * dim);
      at.forEach((k, i) => {
        if (k !== -1) vectors.set((result as EmbedResult).vectors.subarray(k * dim, (k + 1) * dim), i * dim);
      });
    }
    return {
      model: mv.name,
      version: mv.version,
      dim,
      vectors,
      rowSources: at.map((k) =>
        k === -1 ? 'none' : ((result as EmbedResult).rowSources[k] as EntityRowSource),
      ),
      rowStatuses: statuses,
      normalized: req.normalize,
      storedAs: target.storeAs,
    };
  }

  /** Warming: both variants of the entities' vectors stored, from one model run. */
  async warm(mv: ReadyVersion, entities: readonly EntityColumnWire[], signal: AbortSignal): Promise<number> {
    if (typeof this.#deps.embeddings.targetOf(mv) === 'string') return 0;
    const { built } = await entityBatch(this.#deps, {
      model: mv.name,
      version: mv.version,
      pinned: mv,
      entities,
      signal,
      // Warming asks for no entity: popular stays what callers look up.
      countLookup: false,
    });
    if (built.ok.length === 0) return 0;
    await this.#deps.embeddings.warmOn(mv, {
      inputs: built.inputs,
      cache: { bypass: false, noStore: false, maxAgeMs: 0 },
      deadline: Number.POSITIVE_INFINITY,
      signal,
    });
    return built.ok.length;
  }
}
