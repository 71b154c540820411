import { describe, expect, it } from 'vitest';
import { aligned, canonicalizeInPlace } from '../../src/tensor/canonical.js';
import { DType } from '../../src/tensor/dtypes.js';

const f32 = (...bits: number[]) => Buffer.from(new Uint32Array(bits).buffer);

describe('canonical bytes', () => {
  it('turns every float32 NaN into the quiet NaN and -0 into +0', () => {
    const data = f32(0x7fc00001, 0xffc00000, 0x7f800001, 0x80000000, 0x3f800000, 0x7f800000);
    canonicalizeInPlace({ dtype: DType.FLOAT32, dims: [6], data });
    expect([...new Uint32Array(data.buffer, data.byteOffset, 6)]).toEqual([
      0x7fc00000, 0x7fc00000, 0x7fc00000, 0, 0x3f800000, 0x7f800000,
    ]);
  });

  it('turns float64 NaN payloads and -0 into one pattern each, leaving infinities alone', () => {
    const values = new Float64Array([Number.NaN, -0, 1.5, Number.NEGATIVE_INFINITY]);
    const words = new Uint32Array(values.buffer);
    words[1] = 0xfff80000; // a negative NaN
    words[0] = 7; // with a payload
    const data = Buffer.from(values.buffer);
    canonicalizeInPlace({ dtype: DType.FLOAT64, dims: [4], data });
    expect([...words]).toEqual([0, 0x7ff80000, 0, 0, 0, 0x3ff80000, 0, 0xfff00000]);
  });

  it('canonicalises float16 NaN and -0 bit patterns', () => {
    const bits = new Uint16Array([0x7c01, 0xfe00, 0x8000, 0x3c00, 0x7c00]);
    canonicalizeInPlace({ dtype: DType.FLOAT16, dims: [5], data: Buffer.from(bits.buffer) });
    expect([...bits]).toEqual([0x7e00, 0x7e00, 0, 0x3c00, 0x7c00]);
  });

  it('canonicalises in place at any byte offset, as raw bytes lie in a request message', () => {
    const bits = [0x7fc00001, 0x80000000, 0x3f800000, 0xff800001];
    for (const offset of [1, 2, 3]) {
      const backing = Buffer.alloc(offset + 16, 0xee);
      const odd = backing.subarray(offset, offset + 16);
      f32(...bits).copy(odd);
      canonicalizeInPlace({ dtype: DType.FLOAT32, dims: [4], data: odd });
      expect(Buffer.from(odd).equals(f32(0x7fc00000, 0, 0x3f800000, 0x7fc00000)), `offset ${offset}`).toBe(
        true,
      );
      expect(backing[offset - 1]).toBe(0xee);
    }
    const f64 = new Float64Array([-0, Number.NaN, 2]);
    new Uint32Array(f64.buffer)[3] = 0xfff00000; // -NaN with payload 0x...0 in the high word only
    new Uint32Array(f64.buffer)[2] = 1;
    const backing = Buffer.alloc(25);
    const odd = backing.subarray(1, 25);
    Buffer.from(f64.buffer).copy(odd);
    canonicalizeInPlace({ dtype: DType.FLOAT64, dims: [3], data: odd });
    const out = new Float64Array(Uint8Array.from(odd).buffer);
    expect(Object.is(out[0], 0)).toBe(true);
    expect([...new Uint32Array(out.buffer)].slice(2, 4)).toEqual([0, 0x7ff80000]);
    expect(out[2]).toBe(2);
  });

  it('makes any non-zero boolean byte a 1', () => {
    const data = Buffer.from([0, 1, 2, 255]);
    canonicalizeInPlace({ dtype: DType.BOOL, dims: [4], data });
    expect([...data]).toEqual([0, 1, 1, 1]);
  });

  it('leaves integer tensors untouched', () => {
    const data = Buffer.from(new Int32Array([-0, -1, 0x7fffffff]).buffer);
    const before = Buffer.from(data);
    canonicalizeInPlace({ dtype: DType.INT32, dims: [3], data });
    expect(data.equals(before)).toBe(true);
  });

  it('copies a view whose offset is not a multiple of the element size', () => {
    const backing = Buffer.alloc(17);
    const odd = backing.subarray(1, 17);
    const fixed = aligned(odd, 4);
    expect(fixed.byteOffset % 4).toBe(0);
    expect(fixed.equals(odd)).toBe(true);
    const even = backing.subarray(0, 16);
    expect(aligned(even, 4)).toBe(even);
  });
});
