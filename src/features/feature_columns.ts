import { invalidArgument } from '../errors.js';
import type { FeatureValue } from './feature_row.js';
import type { FeatureSpec } from './view.js';

/** infercache.v1.FeatureValues as the decoder hands it over (int64 as decimal strings). */
export interface FeatureValuesWire {
  readonly name: string;
  readonly type: number;
  readonly dim: number;
  readonly float32_values: readonly number[];
  readonly float64_values: readonly number[];
  readonly int32_values: readonly number[];
  readonly int64_values: readonly (string | number)[];
  readonly bool_values: readonly boolean[];
  readonly bytes_values: readonly Buffer[];
  readonly statuses: readonly number[];
}

// infercache.v1.FeatureType numbers, by our type names.
export const FEATURE_TYPE_NUMBER: Record<FeatureSpec['type'], number> = {
  float32: 1,
  float64: 2,
  int32: 3,
  int64: 4,
  bool: 5,
  string: 6,
  bytes: 7,
  float32_vector: 8,
};

const NULL_VALUE = 2;
const MAX_STRING_BYTES = 1 << 20;
// Strict: bytes that are not UTF-8 are refused rather than stored with
// U+FFFD in their place. ignoreBOM keeps a leading U+FEFF as the caller's.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The field of FeatureValues that carries each type. */
export function fieldOf(type: FeatureSpec['type']): keyof FeatureValuesWire {
  switch (type) {
    case 'float32':
    case 'float32_vector':
      return 'float32_values';
    case 'float64':
      return 'float64_values';
    case 'int32':
      return 'int32_values';
    case 'int64':
      return 'int64_values';
    case 'bool':
      return 'bool_values';
    case 'string':
    case 'bytes':
      return 'bytes_values';
  }
}

/** One column of a PutFeatures request as row values (null where the status says NULL_VALUE). */
export function readColumn(spec: FeatureSpec, column: FeatureValuesWire, rows: number): FeatureValue[] {
  const where = `features: "${spec.name}"`;
  if (column.type !== FEATURE_TYPE_NUMBER[spec.type]) {
    throw invalidArgument(`${where} is ${spec.type}; the column says type ${column.type}`);
  }
  const field = fieldOf(spec.type);
  const values = column[field] as readonly unknown[];
  const per = spec.type === 'float32_vector' ? spec.dim : 1;
  if (values.length !== rows * per) {
    throw invalidArgument(
      `${where}: ${values.length} values in ${field} for ${rows} rows${per > 1 ? ` of dim ${per}` : ''}`,
    );
  }
  if (column.statuses.length !== 0 && column.statuses.length !== rows) {
    throw invalidArgument(`${where}: ${column.statuses.length} statuses for ${rows} rows`);
  }
  const out: FeatureValue[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    if (column.statuses[r] === NULL_VALUE) {
      out[r] = null;
      continue;
    }
    out[r] = one(spec, values, r, per, `row ${r}, ${where}`);
  }
  return out;
}

function one(
  spec: FeatureSpec,
  values: readonly unknown[],
  r: number,
  per: number,
  where: string,
): FeatureValue {
  const v = values[r];
  switch (spec.type) {
    case 'float32_vector':
      return Float32Array.from(values.slice(r * per, (r + 1) * per) as number[]);
    case 'int64': {
      const n = BigInt(v as string);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'string': {
      const bytes = v as Buffer;
      if (bytes.length > MAX_STRING_BYTES)
        throw invalidArgument(`${where}: longer than ${MAX_STRING_BYTES} bytes`);
      try {
        return UTF8.decode(bytes);
      } catch {
        throw invalidArgument(`${where}: not UTF-8 (a string feature; send binary values as bytes)`);
      }
    }
    case 'bytes':
      if ((v as Buffer).length > MAX_STRING_BYTES)
        throw invalidArgument(`${where}: longer than ${MAX_STRING_BYTES} bytes`);
      return Buffer.from(v as Buffer);
    case 'float32':
      return Math.fround(v as number);
    default:
      return v as number | boolean;
  }
}
