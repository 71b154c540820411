import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import { DType } from '../../src/tensor/dtypes.js';

describe('value codec', () => {
  it('round-trips tensors byte for byte with their creation time', () => {
    const entry = {
      createdAt: 1_700_000_000_123,
      tensors: [
        {
          dtype: DType.FLOAT32,
          dims: [3],
          data: Buffer.from(new Float32Array([1.5, -2, Number.NaN]).buffer),
        },
        { dtype: DType.INT64, dims: [], data: Buffer.from(new BigInt64Array([-7n]).buffer) },
      ],
    };
    const decoded = decodeEntry(encodeEntry(entry));
    expect(decoded.createdAt).toBe(entry.createdAt);
    expect(decoded.tensors.map((t) => [t.dtype, t.dims])).toEqual([
      [DType.FLOAT32, [3]],
      [DType.INT64, []],
    ]);
    expect(decoded.tensors.map((t) => t.data)).toEqual(entry.tensors.map((t) => t.data));
  });

  it('hands back 8-aligned data so typed-array views work on it', () => {
    const entry = { createdAt: 1, tensors: [{ dtype: DType.FLOAT64, dims: [1], data: Buffer.alloc(8, 1) }] };
    expect((decodeEntry(encodeEntry(entry)).tensors[0]?.data.byteOffset ?? 1) % 8).toBe(0);
  });

  it.each([
    ['garbage bytes', Buffer.from('not msgpack at all \u0000\u00ff')],
    ['another format version', pack([2, 1, []])],
    ['an unknown dtype', pack([1, 1, [[99, [1], Buffer.alloc(4)]]])],
    ['negative dims', pack([1, 1, [[1, [-1], Buffer.alloc(4)]]])],
    ['data that is not bytes', pack([1, 1, [[1, [1], 'text']]])],
  ])('refuses %s with an error instead of a wrong value', (_name, bytes) => {
    expect(() => decodeEntry(bytes)).toThrow();
  });
});
