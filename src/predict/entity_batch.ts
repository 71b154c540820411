import { InferCacheError, invalidArgument, limitExceeded } from '../errors.js';
import { type EntityColumnWire, type EntityRows, entityRows } from '../features/entity_keys.js';
import type { FeatureReader } from '../features/get_features.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { EntityPlan, EntityPlans } from './entity_plan.js';
import { type BuiltRows, buildRows, type RowStatus } from './entity_rows.js';
import { resolveVersion } from './model_catalog.js';

export interface EntityBatchDeps {
  readonly models: () => ReadonlyMap<string, Model>;
  readonly plans: EntityPlans;
  readonly features: Pick<FeatureReader, 'get'>;
  readonly maxEntityRows: number;
  readonly maxBatchRows: number;
}

export interface EntityRequest {
  readonly model: string;
  readonly version: string;
  readonly entities: readonly EntityColumnWire[];
  readonly signal: AbortSignal;
  /** False keeps the lookup out of popularity (warming). */
  readonly countLookup?: boolean;
  /**
   * The version itself, already resolved: warming computes a new version's
   * rows before it is current, while the registry does not list it yet.
   */
  readonly pinned?: ReadyVersion;
}

/** A call by entity, turned into the model's input rows. */
export interface EntityBatch {
  readonly mv: ReadyVersion;
  readonly plan: EntityPlan;
  /** The rows built, one per distinct entity that could be built. */
  readonly built: BuiltRows;
  /** Per entity row of the request: its row's position in `built.inputs`, or -1 when it was not built. */
  readonly at: readonly number[];
  /** Per entity row of the request. */
  readonly statuses: readonly RowStatus[];
}

/**
 * The shared first half of every call by entity (Predict, GetEmbeddings):
 * the version resolved and its mapping checked, the features of every
 * distinct entity in one FeatureReader.get call (every view in one Redis
 * round trip per node), and the model's input rows built from them. The
 * caller runs the rows it wants through its own row cache, and places rows
 * that were not built by `at`.
 */
export async function entityBatch(deps: EntityBatchDeps, req: EntityRequest): Promise<EntityBatch> {
  const mv = req.pinned ?? resolveVersion(deps.models(), req.model, req.version);
  const plan = deps.plans.of(mv);
  const problem = deps.plans.problem(mv);
  if (problem !== undefined) {
    throw new InferCacheError(
      'E_NOT_CALLABLE_BY_ENTITY',
      `model ${mv.name} version ${mv.version} cannot be called by entity: ${problem}`,
    );
  }
  if (plan === undefined) {
    throw invalidArgument(
      `model ${mv.name} version ${mv.version} maps no inputs to features ` +
        '(model.json "entityInputs"); send inputs instead of entities',
    );
  }
  const rows = entityRows(plan.joinKeys, req.entities, deps.maxEntityRows);
  if (rows.count === 0) throw invalidArgument('entities: no entity rows given');
  if (rows.count > deps.maxBatchRows) {
    throw limitExceeded(
      `${rows.count} entity rows given; the limit is ${deps.maxBatchRows} (INFERCACHE_MAX_BATCH_ROWS)`,
    );
  }
  const { first, of } = distinctRows(rows);
  const columns = first.length === rows.count ? req.entities : pick(req.entities, first);
  const features = await deps.features.get(plan.refs, columns, req.signal, {
    lookup: req.countLookup ?? true,
  });
  const built = buildRows(plan, features);
  // Position in the model's batch of each distinct entity; -1: not built.
  const position = new Array<number>(first.length).fill(-1);
  built.ok.forEach((d, k) => {
    position[d] = k;
  });
  return {
    mv,
    plan,
    built,
    at: of.map((d) => position[d] as number),
    statuses: of.map((d) => built.statuses[d] as RowStatus),
  };
}

/** Each distinct entity's first row, and for every row its distinct entity's index. */
function distinctRows(rows: EntityRows): { first: number[]; of: number[] } {
  const seen = new Map<string, number>();
  const first: number[] = [];
  const of = new Array<number>(rows.count);
  for (let i = 0; i < rows.count; i++) {
    const id = (rows.bytes[i] as Buffer).toString('latin1');
    let d = seen.get(id);
    if (d === undefined) {
      d = first.length;
      seen.set(id, d);
      first.push(i);
    }
    of[i] = d;
  }
  return { first, of };
}

/** The entity columns holding only the given rows, in that order. */
function pick(columns: readonly EntityColumnWire[], rows: readonly number[]): EntityColumnWire[] {
  const take = <T>(values: readonly T[]) => (values.length === 0 ? values : rows.map((r) => values[r] as T));
  return columns.map((c) => ({
    name: c.name,
    string_values: take(c.string_values),
    int64_values: take(c.int64_values),
  }));
}
