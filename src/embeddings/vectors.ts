import { decodeFloat16, encodeFloat16 } from '../tensor/float16.js';
import type { Embedding } from './embedding_kind.js';

/** Scales `v` in place to unit L2 norm (summed in float64); a zero vector stays zero. */
export function normalizeInPlace(v: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) * (v[i] as number);
  if (sum === 0 || !Number.isFinite(sum)) return;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
}

/**
 * A computed row as stored: normalised first when asked (so a float16 copy
 * keeps its error relative to the vector it serves), then as halves when
 * `half` and every component fits one; `fitted` says whether it did.
 */
export function storedVector(
  row: Float32Array,
  normalize: boolean,
  half: boolean,
  createdAt: number,
): { value: Embedding; fitted: boolean } {
  const v = Float32Array.from(row);
  if (normalize) normalizeInPlace(v);
  if (half) {
    const data = Buffer.allocUnsafe(v.length * 2);
    const halves = new Uint16Array(data.buffer, data.byteOffset, v.length);
    if (encodeFloat16(v, halves)) return { value: { createdAt, half: true, data }, fitted: true };
  }
  const data = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return { value: { createdAt, half: false, data }, fitted: !half };
}

/** The stored vector's components as float32, written into `out` from `at`. */
export function readVector(e: Embedding, out: Float32Array, at: number): void {
  // Our buffers are 8-byte aligned (Node's pool aligns its slices); a copy if one is not.
  const data = e.data.byteOffset % 4 === 0 ? e.data : Buffer.from(e.data);
  if (e.half) {
    decodeFloat16(new Uint16Array(data.buffer, data.byteOffset, data.length / 2), out, at);
  } else {
    out.set(new Float32Array(data.buffer, data.byteOffset, data.length / 4), at);
  }
}
