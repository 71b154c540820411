import { describe, expect, it } from 'vitest';
import { fromWire, toWire, type WireTensor } from '../../src/api/tensor_mapping.js';
import { DType } from '../../src/tensor/dtypes.js';

const wire = (t: Partial<WireTensor>): WireTensor => ({
  dtype: DType.FLOAT32,
  shape: [],
  raw: Buffer.alloc(0),
  float_data: [],
  double_data: [],
  int32_data: [],
  int64_data: [],
  uint64_data: [],
  string_data: [],
  ...t,
});

describe('proto tensor mapping', () => {
  it('gives the same bytes for raw and typed forms of the same values', () => {
    const values = [1.5, -2, 3.25];
    const raw = fromWire('x', wire({ shape: ['3'], raw: Buffer.from(new Float32Array(values).buffer) }));
    const typed = fromWire('x', wire({ shape: ['3'], float_data: values }));
    expect(typed.data.equals(raw.data)).toBe(true);
    expect(typed.dims).toEqual([3]);
  });

  it.each([
    [DType.INT64, { int64_data: ['-9007199254740993', '5'] }, new BigInt64Array([-9007199254740993n, 5n])],
    [DType.UINT64, { uint64_data: ['18446744073709551615'] }, new BigUint64Array([18446744073709551615n])],
    [DType.INT8, { int32_data: [-128, 127] }, new Int8Array([-128, 127])],
    [DType.UINT16, { int32_data: [65535] }, new Uint16Array([65535])],
    [DType.FLOAT64, { double_data: [0.1] }, new Float64Array([0.1])],
    [DType.BOOL, { int32_data: [1, 0] }, new Uint8Array([1, 0])],
  ])('keeps typed values of dtype %i exact (int64 beyond 2^53 included)', (dtype, fields, expected) => {
    const t = fromWire('x', wire({ dtype, shape: [String(expected.length)], ...fields }));
    expect(t.data.equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it.each([
    ['an unknown dtype', wire({ dtype: 42, shape: ['1'], float_data: [1] }), /dtype is missing or unknown/],
    ['a negative dimension', wire({ shape: ['-1'], float_data: [1] }), /bad dimension -1/],
    ['two data forms', wire({ shape: ['1'], float_data: [1], raw: Buffer.alloc(4) }), /several fields/],
    [
      'the wrong typed field',
      wire({ shape: ['1'], double_data: [1] }),
      /float32 data goes in float_data or raw/,
    ],
    [
      'a value count that does not match',
      wire({ shape: ['2'], float_data: [1] }),
      /1 values given, shape \[2\] needs 2/,
    ],
    [
      'an out-of-range int8',
      wire({ dtype: DType.INT8, shape: ['1'], int32_data: [300] }),
      /300 out of range for int8/,
    ],
    [
      'raw strings',
      wire({ dtype: DType.STRING, shape: ['1'], raw: Buffer.from('x') }),
      /string_data, not raw/,
    ],
    ['no data for a non-empty shape', wire({ shape: ['2'] }), /no data for shape \[2\]/],
  ])('refuses %s with a message naming the tensor', (_name, t, message) => {
    expect(() => fromWire('input "x"', t)).toThrow(message);
    expect(() => fromWire('input "x"', t)).toThrow(/input "x"/);
  });

  it('returns raw bytes by default and typed fields when asked', () => {
    const t = { dtype: DType.INT64, dims: [2], data: Buffer.from(new BigInt64Array([1n, -2n]).buffer) };
    expect(toWire(t, false).raw?.equals(t.data)).toBe(true);
    expect(toWire(t, true).int64_data).toEqual(['1', '-2']);
  });

  it('round-trips strings through string_data', () => {
    const t = fromWire(
      's',
      wire({ dtype: DType.STRING, shape: ['2'], string_data: [Buffer.from('a'), Buffer.from('bé')] }),
    );
    expect(toWire(t, false).string_data?.map(String)).toEqual(['a', 'bé']);
  });
});
