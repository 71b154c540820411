import { describe, expect, it } from 'vitest';
import { InferCacheError } from '../../src/errors.js';
import {
  FEATURE_TYPE_NUMBER,
  type FeatureValuesWire,
  readColumn,
} from '../../src/features/feature_columns.js';
import type { FeatureSpec } from '../../src/features/view.js';
import { putColumn } from '../helpers/feature_side.js';

const NULL_VALUE = 2;
const PRESENT = 1;

function column(spec: FeatureSpec, fields: Partial<FeatureValuesWire>): FeatureValuesWire {
  return putColumn({
    name: spec.name,
    type: FEATURE_TYPE_NUMBER[spec.type],
    dim: spec.type === 'float32_vector' ? spec.dim : 0,
    ...fields,
  });
}

const spec = (name: string, type: FeatureSpec['type'], dim = 1): FeatureSpec => ({ name, type, dim });

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InferCacheError);
    expect((error as InferCacheError).code).toBe('E_INVALID_ARGUMENT');
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('a PutFeatures column', () => {
  it('reads each row of its type, float32 rounded, int64 exact beyond 2^53', () => {
    expect(
      readColumn(spec('f', 'float32'), column(spec('f', 'float32'), { float32_values: [0.1, 2] }), 2),
    ).toEqual([Math.fround(0.1), 2]);
    expect(
      readColumn(
        spec('n', 'int64'),
        column(spec('n', 'int64'), { int64_values: ['5', '9007199254740993'] }),
        2,
      ),
    ).toEqual([5, 9007199254740993n]);
    expect(
      readColumn(
        spec('s', 'string'),
        column(spec('s', 'string'), { bytes_values: [Buffer.from('\uFEFFGrüße')] }),
        1,
      ),
    ).toEqual(['\uFEFFGrüße']);
  });

  it('reads a vector column as dim values per row, row-major', () => {
    const v = spec('v', 'float32_vector', 2);
    const rows = readColumn(v, column(v, { float32_values: [1, 2, 3, 4, 5, 6] }), 3);
    expect(rows.map((r) => Array.from(r as Float32Array))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('reads a row marked NULL_VALUE as null, its placeholder value ignored', () => {
    const i = spec('i', 'int32');
    expect(
      readColumn(i, column(i, { int32_values: [1, 0, 3], statuses: [PRESENT, NULL_VALUE, PRESENT] }), 3),
    ).toEqual([1, null, 3]);
  });

  it('refuses a column of another type, naming the feature', () => {
    const i = spec('age', 'int32');
    expect(refusal(() => readColumn(i, { ...column(i, { float64_values: [1] }), type: 2 }, 1))).toBe(
      'features: "age" is int32; the column says type 2',
    );
  });

  it('refuses a count of values that is not one per row (dim per row for a vector)', () => {
    const i = spec('age', 'int32');
    expect(refusal(() => readColumn(i, column(i, { int32_values: [1, 2] }), 3))).toBe(
      'features: "age": 2 values in int32_values for 3 rows',
    );
    const v = spec('v', 'float32_vector', 4);
    expect(refusal(() => readColumn(v, column(v, { float32_values: [1, 2, 3, 4, 5] }), 2))).toBe(
      'features: "v": 5 values in float32_values for 2 rows of dim 4',
    );
  });

  it('refuses a count of statuses that is not one per row', () => {
    const i = spec('age', 'int32');
    expect(refusal(() => readColumn(i, column(i, { int32_values: [1, 2], statuses: [1] }), 2))).toBe(
      'features: "age": 1 statuses for 2 rows',
    );
  });

  it('refuses a string value that is not UTF-8, naming the row and the feature', () => {
    const s = spec('name', 'string');
    const values = [Buffer.from('ok'), Buffer.from([0x61, 0xff, 0x62])];
    expect(refusal(() => readColumn(s, column(s, { bytes_values: values }), 2))).toMatch(
      /^row 1, features: "name": not UTF-8/,
    );
  });

  it('takes any bytes in a bytes column, and refuses a value over 1 MiB', () => {
    const b = spec('blob', 'bytes');
    expect(readColumn(b, column(b, { bytes_values: [Buffer.from([0xff])] }), 1)).toEqual([
      Buffer.from([0xff]),
    ]);
    expect(refusal(() => readColumn(b, column(b, { bytes_values: [Buffer.alloc((1 << 20) + 1)] }), 1))).toBe(
      'row 0, features: "blob": longer than 1048576 bytes',
    );
  });
});
