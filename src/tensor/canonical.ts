import { DType } from './dtypes.js';
import type { HostTensor } from './host_tensor.js';

/**
 * Makes equal values equal bytes, so they hash to one cache key: every NaN
 * becomes the quiet NaN, -0 becomes +0, and booleans become 0/1. Works on the
 * bit patterns (integer compares), in place: the tensor's buffer belongs to
 * the request being served and the model sees the same canonical values the
 * key was computed over.
 */
export function canonicalizeInPlace(tensor: HostTensor): void {
  const { data } = tensor;
  switch (tensor.dtype) {
    case DType.FLOAT32:
      canonicalFloat32(new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2));
      return;
    case DType.FLOAT64:
      canonicalFloat64(new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2));
      return;
    case DType.FLOAT16:
      canonicalFloat16(new Uint16Array(data.buffer, data.byteOffset, data.byteLength >>> 1));
      return;
    case DType.BOOL:
      for (let i = 0; i < data.length; i++) if (data[i] !== 0) data[i] = 1;
      return;
    default:
      return;
  }
}

function canonicalFloat32(bits: Uint32Array): void {
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i] as number;
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) bits[i] = 0x7fc00000;
    else if (u === 0x80000000) bits[i] = 0;
  }
}

// Little-endian: the low word of element i is at 2i, the high word at 2i+1.
function canonicalFloat64(words: Uint32Array): void {
  for (let i = 0; i + 1 < words.length; i += 2) {
    const lo = words[i] as number;
    const hi = words[i + 1] as number;
    if ((hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0x000fffff) !== 0 || lo !== 0)) {
      words[i] = 0;
      words[i + 1] = 0x7ff80000;
    } else if (hi === 0x80000000 && lo === 0) {
      words[i + 1] = 0;
    }
  }
}

function canonicalFloat16(bits: Uint16Array): void {
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i] as number;
    if ((u & 0x7c00) === 0x7c00 && (u & 0x03ff) !== 0) bits[i] = 0x7e00;
    else if (u === 0x8000) bits[i] = 0;
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
