import { FEATURE_TYPE_NUMBER } from '../../features/feature_columns.js';
import type { FeatureRow, FeatureValue } from '../../features/feature_row.js';
import { STATUS } from '../../features/freshness.js';
import type { FeatureSource, GetFeaturesResult } from '../../features/get_features.js';
import type { FeatureSpec, FeatureView } from '../../features/view.js';
import { ProtoWriter } from './proto_writer.js';

const SOURCE: Record<FeatureSource, number> = { l1: 1, l2: 2, origin: 3, none: 4 };
const EMPTY = new Uint8Array(0);

/**
 * infercache.v1.GetFeaturesResponse straight from the rows read: column per
 * feature, row per entity (see features.proto), each feature's values packed
 * in its type's field with a zero where a row has none, one status per row
 * judged at `result.now`. protobufjs would take every value as a JS array
 * element of a plain object and convert it first (10,000 × 50 values per
 * call); here a column is one typed array and one copy. Field numbers are
 * features.proto's, checked against protobufjs's decoding by
 * test/api/wire/features_response.test.ts.
 */
export function encodeGetFeaturesResponse(result: GetFeaturesResult): Buffer {
  const w = new ProtoWriter(256 + result.entities * (result.refs.length * 6 + 16));
  const byView = new Map(
    result.views.map((v) => [
      v.view,
      {
        values: v.rows.map((r) => r.values),
        statuses: rowStatuses(v.rows, v.view.maxAgeMs, result.now),
      },
    ]),
  );
  // One status column, refilled for each feature (the writer copies it).
  const statusScratch = new Uint8Array(result.entities);
  for (const ref of result.refs) {
    const { values, statuses } = byView.get(ref.view) ?? { values: [], statuses: EMPTY };
    w.message(1, (f) => writeColumn(f, ref.view, ref.index, values, statuses, statusScratch));
  }
  for (const v of result.views) {
    w.message(2, (m) => {
      const times = v.rows.map((r) => (r.values === undefined ? 0 : r.eventTime));
      const sources = Uint8Array.from(v.sources, (s) => SOURCE[s]);
      // Packed varints of values under 128 are their bytes.
      m.string(1, v.view.name).packedSigned(2, times).bytes(3, sources);
    });
  }
  return w.finish();
}

// infercache.v1.FeatureValues: name 1, type 2, dim 3, float32_values 4,
// float64_values 5, int32_values 6, int64_values 7, bool_values 8,
// bytes_values 9, statuses 10.
function writeColumn(
  w: ProtoWriter,
  view: FeatureView,
  index: number,
  rows: readonly (readonly FeatureValue[] | undefined)[],
  rowStatus: Uint8Array,
  scratch: Uint8Array,
): void {
  const spec = view.features[index] as FeatureSpec;
  w.string(1, refName(view, index)).uint(2, FEATURE_TYPE_NUMBER[spec.type]);
  // The scalar numbers, most features, straight from the rows; the rest through one column array.
  if (spec.type === 'float32') w.floatsOf(4, rows, index);
  else if (spec.type === 'float64') w.doublesOf(5, rows, index);
  else writeOtherColumn(w, spec, columnOf(rows, index));
  const n = rows.length;
  const statuses = n === scratch.length ? scratch : new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const st = rowStatus[r] as number;
    statuses[r] = st === STATUS.PRESENT && (rows[r]?.[index] ?? null) === null ? STATUS.NULL_VALUE : st;
  }
  // Statuses are 1 to 4: packed varints under 128 are their bytes.
  w.bytes(10, statuses);
}

// "view:feature" of each feature of a view, made once per view.
const refNames = new WeakMap<FeatureView, string[]>();
function refName(view: FeatureView, index: number): string {
  let names = refNames.get(view);
  if (names === undefined) {
    names = view.features.map((f) => `${view.name}:${f.name}`);
    refNames.set(view, names);
  }
  return names[index] as string;
}

/** The values of a feature of any type but float32 and float64, in its field. */
function writeOtherColumn(w: ProtoWriter, spec: FeatureSpec, column: readonly FeatureValue[]): void {
  const n = column.length;
  switch (spec.type) {
    case 'float32_vector': {
      w.uint(3, spec.dim);
      const out = new Float32Array(n * spec.dim);
      for (let r = 0; r < n; r++) {
        const vec = column[r] as Float32Array | null;
        if (vec !== null) out.set(vec.subarray(0, spec.dim), r * spec.dim);
      }
      w.floats(4, out);
      break;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let r = 0; r < n; r++) out[r] = (column[r] as number | null) ?? 0;
      w.packedSigned(6, out);
      break;
    }
    case 'int64': {
      // Stored int64 values are numbers when they fit in 2^53, bigints otherwise.
      const out = new Array<bigint | number>(n);
      for (let r = 0; r < n; r++) out[r] = (column[r] as bigint | number | null) ?? 0;
      w.packedInt64(7, out);
      break;
    }
    case 'bool': {
      const out = new Array<number>(n);
      for (let r = 0; r < n; r++) out[r] = column[r] === true ? 1 : 0;
      w.packed(8, out);
      break;
    }
    case 'string':
    case 'bytes':
      for (let r = 0; r < n; r++) {
        const v = column[r] as string | Uint8Array | null;
        w.element(9, v === null ? EMPTY : typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
      }
      break;
    default:
      throw new Error(`${spec.type} is written by writeColumn`);
  }
}

/**
 * One feature's value in every row (null where the row has none), as one
 * array: the column loops below then read a plain array, not a property of
 * row objects whose shapes differ by where they were decoded.
 */
function columnOf(rows: readonly (readonly FeatureValue[] | undefined)[], index: number): FeatureValue[] {
  const out = new Array<FeatureValue>(rows.length);
  for (let r = 0; r < rows.length; r++) out[r] = rows[r]?.[index] ?? null;
  return out;
}

/**
 * Each row's status as a value that is not null would have it, judged once
 * per row (freshness.ts statusOf) rather than once per value.
 */
function rowStatuses(rows: readonly FeatureRow[], maxAgeMs: number, now: number): Uint8Array {
  const out = new Uint8Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as FeatureRow;
    out[r] =
      row.values === undefined
        ? STATUS.NOT_FOUND
        : now - row.eventTime > maxAgeMs
          ? STATUS.OUTSIDE_MAX_AGE
          : STATUS.PRESENT;
  }
  return out;
}
