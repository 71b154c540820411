import { describe, expect, it } from 'vitest';
import { DType } from '../../src/tensor/dtypes.js';
import { rowViews, stackRows } from '../../src/tensor/rows.js';
import { decodeStrings, encodeStrings } from '../../src/tensor/strings.js';

describe('rows', () => {
  it('splits a numeric tensor along axis 0 and stacks the rows back to the same bytes', () => {
    const data = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const rows = rowViews({ dtype: DType.FLOAT32, dims: [3, 2], data });
    expect(rows.map((r) => [...new Float32Array(Uint8Array.from(r).buffer)])).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const stacked = stackRows(DType.FLOAT32, [2], rows);
    expect(stacked.dims).toEqual([3, 2]);
    expect(stacked.data.equals(data)).toBe(true);
  });

  it('splits string tensors on element boundaries, whatever the string lengths', () => {
    const data = encodeStrings(['a', 'bcd', '', 'héllo']);
    const rows = rowViews({ dtype: DType.STRING, dims: [2, 2], data });
    expect(rows.map((r) => decodeStrings(r, 2))).toEqual([
      ['a', 'bcd'],
      ['', 'héllo'],
    ]);
  });

  it('refuses string data that ends inside an element', () => {
    const data = encodeStrings(['abc']).subarray(0, 5);
    expect(() => decodeStrings(data, 1)).toThrow(/truncated/);
  });
});
