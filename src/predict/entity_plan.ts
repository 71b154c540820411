import type { FeatureValue } from '../features/feature_row.js';
import type { FeatureSpec, FeatureView, JoinKey } from '../features/view.js';
import type { FeatureTypeName } from '../features/view_schema.js';
import type { EntityInputSpec } from '../model/metadata.js';
import type { ReadyVersion } from '../model/registry.js';
import { formatDims, hasBatchAxis, type TensorSpec } from '../model/signature.js';
import { DType, dtypeName } from '../tensor/dtypes.js';
import { defaultOf } from './entity_defaults.js';

/** One feature feeding a model input. */
export interface PlanPart {
  /** "view:feature". */
  readonly ref: string;
  readonly view: FeatureView;
  /** The feature's position in its view (and in a stored row). */
  readonly index: number;
  readonly spec: FeatureSpec;
  /** The value used when the entity has none (null, not found, past max_age); undefined: none. */
  readonly fallback: Exclude<FeatureValue, null> | undefined;
}

/** One model input: its dtype, row shape and the features that fill a row, in order. */
export interface PlanInput {
  readonly name: string;
  readonly dtype: DType;
  readonly rowDims: readonly number[];
  readonly parts: readonly PlanPart[];
}

/** A model output's row, for the zeros of rows that were not built. */
export interface PlanOutput {
  readonly name: string;
  readonly dtype: DType;
  readonly rowDims: readonly number[];
}

/** How a model version is called by entity: checked once, when the version loads. */
export interface EntityPlan {
  readonly joinKeys: readonly JoinKey[];
  /** Every feature the inputs read, once each: what one FeatureReader.get call asks for. */
  readonly refs: readonly string[];
  /** In the signature's order. */
  readonly inputs: readonly PlanInput[];
  readonly outputs: readonly PlanOutput[];
}

/**
 * Feature types each input dtype takes. Only conversions that never lose an
 * integer's or a boolean's meaning: numbers (and booleans as 0/1) widen to
 * floats, integers to wider integers; a float never becomes an integer and
 * nothing becomes a string but a string. float64 and int64 features feed a
 * float32 input rounded to the nearest float32, as a caller's own cast would.
 */
const TAKES: Partial<Record<DType, readonly FeatureTypeName[]>> = {
  [DType.FLOAT32]: ['float32', 'float64', 'int32', 'int64', 'bool', 'float32_vector'],
  [DType.FLOAT64]: ['float32', 'float64', 'int32', 'int64', 'bool', 'float32_vector'],
  [DType.INT32]: ['int32', 'bool'],
  [DType.INT64]: ['int32', 'int64', 'bool'],
  [DType.BOOL]: ['bool'],
  [DType.STRING]: ['string'],
};

/**
 * The plan of a version whose model.json has `entityInputs` (undefined when
 * it has none), checked against its signature and the feature views: every
 * input mapped, every view and feature known, each input's row width equal
 * to its features' total width, every conversion and default valid. Throws
 * an Error naming the input and the feature: the version then fails to load.
 */
export function compileEntityPlan(
  mv: ReadyVersion,
  views: ReadonlyMap<string, FeatureView>,
): EntityPlan | undefined {
  const mapping = mv.metadata.entityInputs;
  if (mapping === undefined) return undefined;
  const fail = (why: string): never => {
    throw new Error(`model.json entityInputs: ${why}`);
  };
  const { inputs, outputs } = mv.signature;
  for (const name of Object.keys(mapping)) {
    if (!inputs.some((s) => s.name === name)) {
      fail(`the model has no input "${name}" (inputs: ${inputs.map((s) => s.name).join(', ')})`);
    }
  }
  if (!hasBatchAxis(inputs, outputs)) {
    fail(
      'the model needs a batch axis: axis 0 of every input and output the same named dimension ' +
        `(inputs ${inputs.map((s) => formatDims(s.dims)).join(', ')})`,
    );
  }
  const planInputs = inputs.map((spec) => {
    const given = mapping[spec.name];
    if (given === undefined) fail(`input "${spec.name}" is not mapped; every input needs its features`);
    return planInput(spec, given as EntityInputSpec, views, fail);
  });
  const planOutputs = outputs.map((spec) => ({
    name: spec.name,
    dtype: spec.dtype,
    rowDims: fixedRow(spec, (why) => fail(`output "${spec.name}" ${why}`)),
  }));
  const parts = planInputs.flatMap((i) => i.parts);
  const first = (parts[0] as PlanPart).view;
  const keysOf = (v: FeatureView) => v.joinKeys.map((k) => `${k.name} ${k.type}`).join(', ');
  const other = parts.find((p) => keysOf(p.view) !== keysOf(first));
  if (other !== undefined) {
    fail(
      `views ${first.name} (${keysOf(first)}) and ${other.view.name} (${keysOf(other.view)}) ` +
        'have different join keys; one entity must name a row in each',
    );
  }
  return {
    joinKeys: first.joinKeys,
    refs: [...new Set(parts.map((p) => p.ref))],
    inputs: planInputs,
    outputs: planOutputs,
  };
}

function planInput(
  spec: TensorSpec,
  given: EntityInputSpec,
  views: ReadonlyMap<string, FeatureView>,
  fail: (why: string) => never,
): PlanInput {
  const where = `input "${spec.name}"`;
  const takes = TAKES[spec.dtype];
  if (takes === undefined) fail(`${where} is ${dtypeName(spec.dtype)}, which features cannot fill`);
  const rowDims = fixedRow(spec, (why) => fail(`${where} ${why}`));
  const parts = given.features.map((ref, n): PlanPart => {
    const [viewName, featureName] = ref.split(':') as [string, string];
    const view = views.get(viewName);
    if (view === undefined) {
      const known = [...views.keys()].slice(0, 8).join(', ') || 'none';
      fail(`${where}: unknown view "${viewName}" in "${ref}" (views: ${known})`);
    }
    const index = (view as FeatureView).index.get(featureName);
    if (index === undefined) fail(`${where}: view ${viewName} has no feature "${featureName}"`);
    const feature = (view as FeatureView).features[index as number] as FeatureSpec;
    if (!(takes as readonly FeatureTypeName[]).includes(feature.type)) {
      fail(`${where} is ${dtypeName(spec.dtype)}; "${ref}" is ${feature.type}, which does not convert to it`);
    }
    const raw = given.defaults?.[n] ?? null;
    const fallback =
      raw === null ? undefined : defaultOf(feature, raw, (why) => fail(`${where}: ${ref} ${why}`));
    return { ref, view: view as FeatureView, index: index as number, spec: feature, fallback };
  });
  const width = parts.reduce((n, p) => n + p.spec.dim, 0);
  const want = rowDims.reduce((n, d) => n * d, 1);
  if (width !== want) {
    fail(
      `${where} takes ${want} values per row (shape ${formatDims(spec.dims)}); ` +
        `its features give ${width}`,
    );
  }
  return { name: spec.name, dtype: spec.dtype, rowDims, parts };
}

/** The dims past the batch axis, which must all be fixed numbers. */
function fixedRow(spec: TensorSpec, fail: (why: string) => never): number[] {
  const row = (spec.dims ?? []).slice(1);
  if (row.some((d) => typeof d !== 'number')) {
    fail(`has shape ${formatDims(spec.dims)}; past the batch axis every size must be fixed`);
  }
  return row as number[];
}

/**
 * The entity plans of the loaded versions. `check` is the registry's
 * VersionCheck: a mapping that does not hold fails its version at load.
 */
export class EntityPlans {
  readonly #views: () => ReadonlyMap<string, FeatureView>;
  readonly #onProblem: (mv: ReadyVersion, problem: string) => void;
  // A plan, or why the version cannot be called by entity, or null: no mapping.
  readonly #plans = new WeakMap<ReadyVersion, EntityPlan | string | null>();

  constructor(
    views: () => ReadonlyMap<string, FeatureView>,
    onProblem: (mv: ReadyVersion, problem: string) => void = () => {},
  ) {
    this.#views = views;
    this.#onProblem = onProblem;
  }

  /**
   * Compiles the version's plan when it loads. A mapping that does not hold
   * never stops the version from loading: the views file belongs to the
   * deployment, not the model, and the version still serves its inputs. Its
   * calls by entity are refused with the reason instead.
   */
  readonly check = (mv: ReadyVersion): void => {
    try {
      this.#plans.set(mv, compileEntityPlan(mv, this.#views()) ?? null);
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      this.#plans.set(mv, problem);
      this.#onProblem(mv, problem);
    }
  };

  /** The version's plan; undefined when its model.json maps no inputs to features, or the mapping does not hold. */
  of(mv: ReadyVersion): EntityPlan | undefined {
    if (!this.#plans.has(mv)) this.check(mv);
    const plan = this.#plans.get(mv);
    return typeof plan === 'object' && plan !== null ? plan : undefined;
  }

  /** Why the version's mapping does not hold; undefined when it holds or there is none. */
  problem(mv: ReadyVersion): string | undefined {
    if (!this.#plans.has(mv)) this.check(mv);
    const plan = this.#plans.get(mv);
    return typeof plan === 'string' ? plan : undefined;
  }
}
