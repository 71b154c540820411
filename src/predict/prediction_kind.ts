import { type CacheKind, ENTRY_OVERHEAD_BYTES, lifetimes } from '../cache/kind.js';
import { RejectedValue } from '../cache/value_frame.js';
import type { TensorSpec } from '../model/signature.js';
import { DType, dtypeSize, isDType } from '../tensor/dtypes.js';
import { elementCount, type HostTensor } from '../tensor/host_tensor.js';
import { stringOffsets } from '../tensor/strings.js';

/** The outputs computed for one row (or one whole request), and when. */
export interface Prediction {
  readonly createdAt: number;
  readonly tensors: readonly HostTensor[];
}

export interface PredictionTtl {
  readonly l1Ms: number;
  readonly l2Ms: number;
  readonly l2Jitter: number;
}

// A value computed "in the future" by more than this is refused: clocks of a
// fleet drift by milliseconds, not minutes, and a bad createdAt would make
// max_age_ms accept a stale value for as long as it stays in the future.
const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * Predictions as a cache kind. Payload: u16 tensor count, then per tensor
 * u8 dtype, u8 rank, u32 dims (little-endian), u32 byte length, the bytes.
 * A value read back is checked against the outputs of the model version
 * that asks for it: count, dtypes, fixed dims, byte lengths, string data.
 * `perRow` says whether values hold one row (the batch axis left out).
 */
export function predictionKind(
  outputs: readonly TensorSpec[],
  perRow: boolean,
  ttl: PredictionTtl,
): CacheKind<Prediction> {
  return {
    id: 'p',
    timeOf: (p) => p.createdAt,
    writtenAt: (p) => p.createdAt,
    encode,
    decode(payload, time) {
      if (time > Date.now() + MAX_CLOCK_SKEW_MS) {
        throw new RejectedValue('future', 'value computed in the future');
      }
      const tensors = decodeTensors(payload);
      checkAgainst(outputs, perRow, tensors);
      return { createdAt: time, tensors };
    },
    sizeOf(p) {
      let bytes = ENTRY_OVERHEAD_BYTES;
      for (const t of p.tensors) bytes += t.data.byteLength + 48 + 8 * t.dims.length;
      return bytes;
    },
    ...lifetimes(ttl),
  };
}

function encode(p: Prediction): Buffer {
  let size = 2;
  for (const t of p.tensors) size += 2 + 4 * t.dims.length + 4 + t.data.byteLength;
  const out = Buffer.allocUnsafe(size);
  // writeUInt16LE and the rank check refuse what the format cannot hold
  // (the caller keeps such a value in L1 only).
  let at = out.writeUInt16LE(p.tensors.length, 0);
  for (const t of p.tensors) {
    if (t.dims.length > 255) throw new RangeError(`rank ${t.dims.length} does not fit the format`);
    out[at++] = t.dtype;
    out[at++] = t.dims.length;
    for (const d of t.dims) at = out.writeUInt32LE(d, at);
    at = out.writeUInt32LE(t.data.byteLength, at);
    at += t.data.copy(out, at);
  }
  return out;
}

function decodeTensors(payload: Buffer): HostTensor[] {
  const bad = (why: string) => new RejectedValue('format', `malformed prediction: ${why}`);
  if (payload.length < 2) throw bad('empty');
  const count = payload.readUInt16LE(0);
  const tensors: HostTensor[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 2 > payload.length) throw bad('truncated');
    const dtype = payload[at++] as number;
    const rank = payload[at++] as number;
    if (!isDType(dtype)) throw bad(`unknown dtype ${dtype}`);
    if (at + 4 * rank + 4 > payload.length) throw bad('truncated');
    const dims: number[] = [];
    for (let d = 0; d < rank; d++, at += 4) dims.push(payload.readUInt32LE(at));
    const length = payload.readUInt32LE(at);
    at += 4;
    if (at + length > payload.length) throw bad('truncated');
    // Copied into a buffer of its own: aligned for typed-array views, and
    // not pinning the whole Redis reply in L1.
    tensors.push({ dtype, dims, data: Buffer.from(payload.subarray(at, at + length)) });
    at += length;
  }
  if (at !== payload.length) throw bad('trailing bytes');
  return tensors;
}

function checkAgainst(outputs: readonly TensorSpec[], perRow: boolean, tensors: readonly HostTensor[]): void {
  const wrong = (why: string) => new RejectedValue('schema', `does not match the model's outputs: ${why}`);
  if (tensors.length !== outputs.length)
    throw wrong(`${tensors.length} tensors for ${outputs.length} outputs`);
  outputs.forEach((spec, i) => {
    const t = tensors[i] as HostTensor;
    if (t.dtype !== spec.dtype) throw wrong(`output ${i} has dtype ${t.dtype}, expected ${spec.dtype}`);
    if (spec.dims !== undefined) {
      const want = perRow ? spec.dims.slice(1) : spec.dims;
      if (t.dims.length !== want.length) throw wrong(`output ${i} has rank ${t.dims.length}`);
      want.forEach((d, axis) => {
        if (typeof d === 'number' && t.dims[axis] !== d) throw wrong(`output ${i} axis ${axis}`);
      });
    }
    const count = elementCount(t.dims);
    if (t.dtype === DType.STRING) {
      let end: number | undefined;
      try {
        end = stringOffsets(t.data, count)[count];
      } catch {
        end = undefined;
      }
      if (end !== t.data.length) throw wrong(`output ${i} string data does not hold ${count} elements`);
    } else if (t.data.length !== count * dtypeSize(t.dtype)) {
      throw wrong(`output ${i} has ${t.data.length} bytes for ${count} elements`);
    }
  });
}
