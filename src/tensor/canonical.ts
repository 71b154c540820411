import { DType } from './dtypes.js';
import type { HostTensor } from './host_tensor.js';

/**
 * Makes equal values equal bytes, so they hash to one cache key: every NaN
 * becomes the quiet NaN, -0 becomes +0, and booleans become 0/1. Works on the
 * little-endian bytes, in place: the tensor's buffer belongs to the request
 * being served and the model sees the same canonical values the key was
 * computed over. Bytes, not typed-array words, so a tensor decoded from
 * anywhere in a gRPC message needs no aligned copy first (1 MiB per 1,024
 * heavy rows); the common case reads one byte per element and is as fast.
 */
export function canonicalizeInPlace(tensor: HostTensor): void {
  const { data } = tensor;
  switch (tensor.dtype) {
    case DType.FLOAT32:
      canonicalFloat32(data);
      return;
    case DType.FLOAT64:
      canonicalFloat64(data);
      return;
    case DType.FLOAT16:
      canonicalFloat16(data);
      return;
    case DType.BOOL:
      for (let i = 0; i < data.length; i++) if (data[i] !== 0) data[i] = 1;
      return;
    default:
      return;
  }
}

// Each kernel looks at an element's top byte first (sign and high exponent
// bits): only a top byte of all-ones exponent or a bare sign bit needs more.

/** float32: NaN (exponent all ones, mantissa not 0) → 0x7fc00000; -0 → 0. */
function canonicalFloat32(d: Uint8Array): void {
  for (let i = 3; i < d.length; i += 4) {
    const top = d[i] as number;
    if ((top & 0x7f) === 0x7f) {
      const next = d[i - 1] as number;
      if ((next & 0x80) !== 0 && ((next & 0x7f) | (d[i - 2] as number) | (d[i - 3] as number)) !== 0) {
        d[i] = 0x7f;
        d[i - 1] = 0xc0;
        d[i - 2] = 0;
        d[i - 3] = 0;
      }
    } else if (top === 0x80 && ((d[i - 1] as number) | (d[i - 2] as number) | (d[i - 3] as number)) === 0) {
      d[i] = 0;
    }
  }
}

/** float64: NaN → 0x7ff8000000000000; -0 → 0. */
function canonicalFloat64(d: Uint8Array): void {
  for (let i = 7; i < d.length; i += 8) {
    const top = d[i] as number;
    if (top !== 0x80 && (top & 0x7f) !== 0x7f) continue;
    let low = 0; // The 48 bits below the top 16.
    for (let k = i - 7; k < i - 1; k++) low |= d[k] as number;
    const next = d[i - 1] as number;
    if ((top & 0x7f) === 0x7f) {
      if ((next & 0xf0) === 0xf0 && ((next & 0x0f) | low) !== 0) {
        d[i] = 0x7f;
        d[i - 1] = 0xf8;
        d.fill(0, i - 7, i - 1);
      }
    } else if ((next | low) === 0) {
      d[i] = 0;
    }
  }
}

/** float16: NaN → 0x7e00; -0 → 0. */
function canonicalFloat16(d: Uint8Array): void {
  for (let i = 1; i < d.length; i += 2) {
    const top = d[i] as number;
    if ((top & 0x7c) === 0x7c) {
      if (((top & 0x03) | (d[i - 1] as number)) !== 0) {
        d[i] = 0x7e;
        d[i - 1] = 0;
      }
    } else if (top === 0x80 && d[i - 1] === 0) {
      d[i] = 0;
    }
  }
}

/**
 * Typed-array views need their byte offset to be a multiple of the element
 * size; a `bytes` field decoded from a gRPC message is a slice of that message
 * at any offset, so copy when it is not aligned (Buffer's pool is 8-aligned).
 */
export function aligned(data: Buffer, elementSize: number): Buffer {
  if (elementSize <= 1 || data.byteOffset % elementSize === 0) return data;
  return Buffer.from(data);
}
