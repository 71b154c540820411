/**
 * IEEE 754 half precision, for embeddings stored at half the bytes. Node 20
 * has no Float16Array (it arrives in Node 24), and the conversion runs on
 * every stored and every served component, so it is ours: a bit-level
 * float32 -> float16 rounding to nearest even, and a 65,536-entry table for
 * float16 -> float32 (256 KiB, built once).
 *
 * Error of a round trip (rounding to nearest): at most 2^-11 (4.9e-4)
 * relative for |x| >= 2^-14 (6.1e-5, the smallest normal half), at most
 * 2^-25 (3.0e-8) absolute below it. Beyond ±65504 a half is infinite:
 * `encodeFloat16` reports such vectors so the caller keeps them as float32.
 */

/** Largest relative error of a round trip for |x| >= FLOAT16_MIN_NORMAL. */
export const FLOAT16_RELATIVE_ERROR = 2 ** -11;
/** The smallest normal half; below it the error bound is absolute. */
export const FLOAT16_MIN_NORMAL = 2 ** -14;
/** Largest absolute error of a round trip for |x| < FLOAT16_MIN_NORMAL. */
export const FLOAT16_ABSOLUTE_ERROR = 2 ** -25;

const TO_FLOAT32 = buildTable();

function buildTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) table[h] = sign * fraction * 2 ** -24;
    else if (exponent === 0x1f) table[h] = fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
    else table[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** The half nearest to the float32 with bits `x` (ties to even). */
function halfOf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m === 0 ? 0 : 0x200);
  const exponent = e - 112; // rebias: 127 -> 15
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    // A subnormal half (or zero): the 24-bit significand shifted into 10 bits.
    if (exponent < -10) return sign;
    const significand = m | 0x800000;
    const shift = 14 - exponent;
    let half = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const tie = 1 << (shift - 1);
    if (rest > tie || (rest === tie && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (exponent << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  // A carry out of the fraction moves into the exponent, as it should (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/**
 * `src` as halves in `dst` (same length). Returns false when a component
 * does not fit a half (beyond ±65504, infinite or NaN): `dst` is then not
 * to be used, and the vector is kept as float32.
 */
export function encodeFloat16(src: Float32Array, dst: Uint16Array): boolean {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const h = halfOf(bits[i] as number);
    if ((h & 0x7c00) === 0x7c00) return false;
    dst[i] = h;
  }
  return true;
}

/** Halves `src` as float32 values in `dst` (same length). */
export function decodeFloat16(src: Uint16Array, dst: Float32Array, at = 0): void {
  for (let i = 0; i < src.length; i++) dst[at + i] = TO_FLOAT32[src[i] as number] as number;
}
