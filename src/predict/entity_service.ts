import type { EntityColumnWire } from '../features/entity_keys.js';
import type { NamedTensor } from '../model/pool.js';
import type { ReadyVersion } from '../model/registry.js';
import { DType, dtypeSize } from '../tensor/dtypes.js';
import { elementCount } from '../tensor/host_tensor.js';
import { rowViews, stackRows } from '../tensor/rows.js';
import { encodeStrings } from '../tensor/strings.js';
import { type EntityBatchDeps, entityBatch } from './entity_batch.js';
import type { EntityPlan } from './entity_plan.js';
import type { RowStatus } from './entity_rows.js';
import type { CacheControl, PredictResult, PredictService, RowSource } from './service.js';

export type { RowStatus } from './entity_rows.js';

export interface EntityPredictRequest {
  readonly model: string;
  readonly version: string;
  readonly entities: readonly EntityColumnWire[];
  readonly cache: CacheControl;
  readonly deadline: number;
  readonly signal: AbortSignal;
  /** False keeps the lookup out of popularity (warming). */
  readonly countLookup?: boolean;
  /** The version, already resolved (see EntityRequest.pinned). */
  readonly pinned?: ReadyVersion;
}

/** Where an entity's row came from; 'none' when it was not built (see its status). */
export type EntityRowSource = RowSource | 'none';

export interface EntityPredictResult {
  readonly model: string;
  readonly version: string;
  readonly outputs: readonly NamedTensor[];
  /** One per entity row, in request order (also for a model cached whole). */
  readonly rowSources: readonly EntityRowSource[];
  readonly rowCached: boolean;
  readonly rowStatuses: readonly RowStatus[];
}

export interface EntityPredictDeps extends EntityBatchDeps {
  readonly predictions: Pick<PredictService, 'predictOn'>;
}

/**
 * Predict by entity: the rows built from the entities' features (see
 * entity_batch.ts) go through PredictService (row cache, one model run for
 * the misses), and the rows that could not be built get zeros with
 * ROW_SOURCE_NONE, so one missing entity never fails the call.
 */
export class EntityPredictService {
  readonly #deps: EntityPredictDeps;

  constructor(deps: EntityPredictDeps) {
    this.#deps = deps;
  }

  async predict(req: EntityPredictRequest): Promise<EntityPredictResult> {
    const { mv, plan, built, at, statuses } = await entityBatch(this.#deps, req);
    const result =
      built.ok.length === 0
        ? undefined
        : await this.#deps.predictions.predictOn(mv, {
            inputs: built.inputs,
            cache: req.cache,
            deadline: req.deadline,
            signal: req.signal,
          });
    const source = (k: number): RowSource =>
      (result as PredictResult).rowSources[(result as PredictResult).rowCached ? k : 0] as RowSource;
    return {
      model: mv.name,
      version: mv.version,
      outputs: scatter(plan, result, at),
      rowSources: at.map((k) => (k === -1 ? 'none' : source(k))),
      rowCached: result?.rowCached ?? mv.signature.rowCacheable,
      rowStatuses: statuses,
    };
  }
}

/**
 * The response's outputs, one row per entity row: the model's row where the
 * entity's row was built (`at[i]`, its position in the model's batch), zeros
 * (empty strings) where it was not. Taken as they are when every row maps
 * to its own position.
 */
function scatter(plan: EntityPlan, result: PredictResult | undefined, at: readonly number[]): NamedTensor[] {
  if (result !== undefined && at.every((k, i) => k === i)) return [...result.outputs];
  return plan.outputs.map((spec, j) => {
    const computed = result?.outputs[j];
    const rowDims = computed === undefined ? spec.rowDims : computed.dims.slice(1);
    const views = computed === undefined ? [] : rowViews(computed);
    const count = elementCount(rowDims);
    const zero =
      spec.dtype === DType.STRING
        ? encodeStrings(new Array<string>(count).fill(''))
        : Buffer.alloc(count * dtypeSize(spec.dtype));
    const data = at.map((k) => (k === -1 ? zero : (views[k] as Buffer)));
    return { name: spec.name, ...stackRows(spec.dtype, rowDims, data) };
  });
}
