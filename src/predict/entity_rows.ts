import type { GetFeaturesResult } from '../features/feature_result.js';
import type { FeatureRow, FeatureValue } from '../features/feature_row.js';
import { STATUS, statusOf } from '../features/freshness.js';
import type { FeatureView } from '../features/view.js';
import { DType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { encodeStrings } from '../tensor/strings.js';
import type { EntityPlan, PlanInput, PlanPart } from './entity_plan.js';

/** What became of one entity's row (infercache.v1.RowStatus). */
export type RowStatus = 'ok' | 'entity_not_found' | 'feature_missing';

export interface BuiltRows {
  /** One per entity row of the features result, in order. */
  readonly statuses: readonly RowStatus[];
  /** The rows that are OK, ascending: row k of `inputs` is entity row ok[k]. */
  readonly ok: readonly number[];
  /** The model's inputs for the OK rows only (none when no row is OK). */
  readonly inputs: Map<string, HostTensor>;
}

type Value = Exclude<FeatureValue, null>;

/**
 * Turns the features of each entity into the model's input rows. A value
 * is used when it is PRESENT; when it is NULL_VALUE, NOT_FOUND or
 * OUTSIDE_MAX_AGE the feature's default takes its place, and without one
 * the row is not built: ENTITY_NOT_FOUND when the entity has no row in a
 * view (before FEATURE_MISSING, when both apply), else FEATURE_MISSING.
 */
export function buildRows(plan: EntityPlan, features: GetFeaturesResult): BuiltRows {
  const rowsOf = new Map<FeatureView, readonly FeatureRow[]>(features.views.map((v) => [v.view, v.rows]));
  const count = features.entities;
  const statuses = new Array<RowStatus>(count);
  const ok: number[] = [];
  const parts = plan.inputs.flatMap((input) => input.parts);
  for (let r = 0; r < count; r++) {
    let status: RowStatus = 'ok';
    for (const part of parts) {
      const row = (rowsOf.get(part.view) as readonly FeatureRow[])[r] as FeatureRow;
      const st = statusOf(row, part.index, part.view.maxAgeMs, features.now);
      if (st === STATUS.PRESENT || part.fallback !== undefined) continue;
      if (st === STATUS.NOT_FOUND) {
        status = 'entity_not_found';
        break;
      }
      status = 'feature_missing';
    }
    statuses[r] = status;
    if (status === 'ok') ok.push(r);
  }
  const inputs = new Map<string, HostTensor>();
  if (ok.length > 0) {
    for (const input of plan.inputs) inputs.set(input.name, tensorOf(input, ok, rowsOf, features.now));
  }
  return { statuses, ok, inputs };
}

/** The value a built row uses for `part`: the stored one when PRESENT, else the default. */
function usedValue(part: PlanPart, row: FeatureRow, now: number): Value {
  if (statusOf(row, part.index, part.view.maxAgeMs, now) === STATUS.PRESENT) {
    return (row.values as readonly FeatureValue[])[part.index] as Value;
  }
  return part.fallback as Value;
}

function tensorOf(
  input: PlanInput,
  ok: readonly number[],
  rowsOf: ReadonlyMap<FeatureView, readonly FeatureRow[]>,
  now: number,
): HostTensor {
  const width = input.parts.reduce((n, p) => n + p.spec.dim, 0);
  const sink = sinkOf(input.dtype, ok.length * width);
  let at = 0;
  for (const r of ok) {
    for (const part of input.parts) {
      const row = (rowsOf.get(part.view) as readonly FeatureRow[])[r] as FeatureRow;
      const v = usedValue(part, row, now);
      if (v instanceof Float32Array) for (const x of v) sink.put(at++, x);
      else sink.put(at++, v);
    }
  }
  return { dtype: input.dtype, dims: [ok.length, ...input.rowDims], data: sink.bytes() };
}

interface Sink {
  put(at: number, v: Value): void;
  bytes(): Buffer;
}

/** Values of one input, converted to its dtype (entity_plan.ts TAKES lists what may arrive). */
function sinkOf(dtype: DType, n: number): Sink {
  const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const num = (v: Value) => (typeof v === 'boolean' ? Number(v) : Number(v as number | bigint));
  switch (dtype) {
    case DType.FLOAT32:
    case DType.FLOAT64:
    case DType.INT32: {
      const a =
        dtype === DType.FLOAT32
          ? new Float32Array(n)
          : dtype === DType.FLOAT64
            ? new Float64Array(n)
            : new Int32Array(n);
      return {
        put(at, v) {
          a[at] = num(v);
        },
        bytes: () => view(a),
      };
    }
    case DType.INT64: {
      const a = new BigInt64Array(n);
      const big = (v: Value) => (typeof v === 'bigint' ? v : BigInt(num(v)));
      return {
        put(at, v) {
          a[at] = big(v);
        },
        bytes: () => view(a),
      };
    }
    case DType.BOOL: {
      const a = new Uint8Array(n);
      return {
        put(at, v) {
          a[at] = v === true ? 1 : 0;
        },
        bytes: () => view(a),
      };
    }
    case DType.STRING: {
      const a = new Array<string>(n);
      return {
        put(at, v) {
          a[at] = v as string;
        },
        bytes: () => encodeStrings(a),
      };
    }
    default:
      throw new RangeError(`no entity input of dtype ${dtype}`);
  }
}
