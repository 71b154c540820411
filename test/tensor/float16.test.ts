import { describe, expect, it } from 'vitest';
import {
  decodeFloat16,
  encodeFloat16,
  FLOAT16_ABSOLUTE_ERROR,
  FLOAT16_MIN_NORMAL,
  FLOAT16_RELATIVE_ERROR,
} from '../../src/tensor/float16.js';

const roundTrip = (values: ArrayLike<number>) => {
  const src = Float32Array.from(values);
  const halves = new Uint16Array(src.length);
  const fits = encodeFloat16(src, halves);
  const back = new Float32Array(src.length);
  decodeFloat16(halves, back);
  return { fits, halves, back };
};

/** Every finite half's value, by its bits (the reference, computed apart from the module's table). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const f = h & 0x3ff;
  return e === 0 ? sign * f * 2 ** -24 : sign * (1 + f / 1024) * 2 ** (e - 15);
}

describe('float16 conversion', () => {
  it('gives back every finite half exactly, and its bits', () => {
    const finite = Array.from({ length: 65536 }, (_, h) => h).filter((h) => ((h >>> 10) & 0x1f) !== 0x1f);
    const { fits, halves, back } = roundTrip(finite.map(halfValue));
    expect(fits).toBe(true);
    // -0 and +0 both survive with their sign.
    expect(Array.from(halves)).toEqual(finite);
    expect(Array.from(back)).toEqual(finite.map(halfValue));
  });

  it('rounds to the nearest half, ties to the even one, across normals and subnormals', () => {
    const checked: number[] = [];
    for (let h = 0; h < 0x7bff; h += 7) {
      const lo = halfValue(h);
      const hi = halfValue(h + 1);
      const mid = (lo + hi) / 2;
      // Midpoints of adjacent halves are exact float32 values.
      expect(Math.fround(mid)).toBe(mid);
      const even = h % 2 === 0 ? h : h + 1;
      const below = Math.fround(mid - (hi - lo) / 8);
      const above = Math.fround(mid + (hi - lo) / 8);
      const { halves } = roundTrip([mid, below, above, -mid]);
      expect(Array.from(halves)).toEqual([even, h, h + 1, even | 0x8000]);
      checked.push(h);
    }
    expect(checked.length).toBeGreaterThan(4000);
  });

  it(`stays within ${FLOAT16_RELATIVE_ERROR.toExponential(2)} relative (normals) and ${FLOAT16_ABSOLUTE_ERROR.toExponential(2)} absolute (below) on random vectors`, () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const values = Float32Array.from({ length: 200_000 }, () => {
      const magnitude = 2 ** (random() * 40 - 25); // 2^-25 .. 2^15
      return Math.fround((random() < 0.5 ? -1 : 1) * magnitude);
    });
    const { fits, back } = roundTrip(values);
    expect(fits).toBe(true);
    let worstRelative = 0;
    let worstAbsolute = 0;
    values.forEach((x, i) => {
      const error = Math.abs((back[i] as number) - x);
      if (Math.abs(x) >= FLOAT16_MIN_NORMAL) worstRelative = Math.max(worstRelative, error / Math.abs(x));
      else worstAbsolute = Math.max(worstAbsolute, error);
    });
    expect(worstRelative).toBeLessThanOrEqual(FLOAT16_RELATIVE_ERROR);
    expect(worstRelative).toBeGreaterThan(FLOAT16_RELATIVE_ERROR * 0.9);
    expect(worstAbsolute).toBeLessThanOrEqual(FLOAT16_ABSOLUTE_ERROR);
  });

  it('says a vector does not fit when a component is beyond ±65504, infinite or NaN', () => {
    expect(roundTrip([1, 65504, -65504]).fits).toBe(true);
    // 65519.99 still rounds down to 65504; 65520 rounds up to infinity.
    expect(roundTrip([65519.99]).fits).toBe(true);
    expect(roundTrip([1, 65520]).fits).toBe(false);
    expect(roundTrip([-1e6]).fits).toBe(false);
    expect(roundTrip([Number.POSITIVE_INFINITY]).fits).toBe(false);
    expect(roundTrip([Number.NaN]).fits).toBe(false);
  });

  it('reads views at any offset of a larger buffer', () => {
    const buffer = new ArrayBuffer(64);
    const src = new Float32Array(buffer, 8, 4);
    src.set([0.5, -2, 3.140625, 1e-6]);
    const halves = new Uint16Array(new ArrayBuffer(16), 2, 4);
    expect(encodeFloat16(src, halves)).toBe(true);
    const out = new Float32Array(6);
    decodeFloat16(halves, out, 2);
    expect(Array.from(out.subarray(2, 5))).toEqual([0.5, -2, 3.140625]);
    expect(Math.abs((out[5] as number) - 1e-6)).toBeLessThanOrEqual(FLOAT16_ABSOLUTE_ERROR);
  });
});
