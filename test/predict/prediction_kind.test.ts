import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES } from '../../src/cache/kind.js';
import { RejectedValue } from '../../src/cache/value_frame.js';
import type { TensorSpec } from '../../src/model/signature.js';
import { type Prediction, predictionKind } from '../../src/predict/prediction_kind.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';

const TTL = { l1Ms: 5_000, l2Ms: 100_000, l2Jitter: 0.1 };

// A model with a float32 [N, 3], an int64 [N] and a string [N, 2] output.
const OUTPUTS: TensorSpec[] = [
  { name: 'probs', dtype: DType.FLOAT32, dims: ['N', 3] },
  { name: 'label', dtype: DType.INT64, dims: ['N'] },
  { name: 'names', dtype: DType.STRING, dims: ['N', 2] },
];

const f32 = (dims: number[], values: number[]): HostTensor => ({
  dtype: DType.FLOAT32,
  dims,
  data: Buffer.from(new Float32Array(values).buffer),
});
const i64 = (dims: number[], values: bigint[]): HostTensor => ({
  dtype: DType.INT64,
  dims,
  data: Buffer.from(new BigInt64Array(values).buffer),
});
const str = (dims: number[], values: string[]): HostTensor => ({
  dtype: DType.STRING,
  dims,
  data: encodeStrings(values),
});

/** One row's outputs (no batch axis). */
const row = (createdAt = Date.now()): Prediction => ({
  createdAt,
  tensors: [
    f32([3], [0.25, Number.NaN, -0]),
    i64([], [-9_007_199_254_740_993n]),
    str([2], ['setosa', 'héllo wörld']),
  ],
});

/** A whole request's outputs (batch of two). */
const whole = (createdAt = Date.now()): Prediction => ({
  createdAt,
  tensors: [f32([2, 3], [0.1, 0.2, 0.7, 1, 0, 0]), i64([2], [2n, 0n]), str([2, 2], ['a', '', 'bc', 'd'])],
});

const rows = predictionKind(OUTPUTS, true, TTL);
const wholes = predictionKind(OUTPUTS, false, TTL);

function refusal(decode: () => unknown): string | undefined {
  try {
    decode();
  } catch (error) {
    if (error instanceof RejectedValue) return error.reason;
    throw error;
  }
  return undefined;
}

/** `p` with tensor `i` replaced. */
const withTensor = (p: Prediction, i: number, t: HostTensor): Prediction => ({
  createdAt: p.createdAt,
  tensors: p.tensors.map((old, j) => (j === i ? t : old)),
});

describe('prediction kind', () => {
  it('round-trips several tensors byte for byte, NaN and -0 included, with their time', () => {
    const p = row();
    const back = rows.decode(Buffer.from(rows.encode(p)), rows.timeOf(p));
    expect(back.createdAt).toBe(p.createdAt);
    expect(back.tensors.map((t) => [t.dtype, t.dims])).toEqual(p.tensors.map((t) => [t.dtype, t.dims]));
    back.tensors.forEach((t, i) => {
      expect(t.data.equals((p.tensors[i] as HostTensor).data)).toBe(true);
    });
  });

  it('hands back data 8-aligned and copied, so typed-array views work on it and it pins no reply', () => {
    // Decode from an odd offset of a larger buffer, as a Redis reply may be.
    const payload = Buffer.from(rows.encode(row()));
    const shifted = Buffer.concat([Buffer.alloc(3), payload]).subarray(3);
    const decoded = rows.decode(shifted, Date.now()).tensors;
    for (const t of decoded) expect(t.data.byteOffset % 8).toBe(0);
    const int64 = decoded[1] as HostTensor;
    expect(new BigInt64Array(int64.data.buffer, int64.data.byteOffset, 1)[0]).toBe(-9_007_199_254_740_993n);
    shifted.fill(0);
    expect(new BigInt64Array(int64.data.buffer, int64.data.byteOffset, 1)[0]).toBe(-9_007_199_254_740_993n);
  });

  it('takes one row without the batch axis per row, and the whole batch otherwise', () => {
    expect(refusal(() => rows.decode(Buffer.from(rows.encode(row())), Date.now()))).toBeUndefined();
    expect(refusal(() => wholes.decode(Buffer.from(wholes.encode(whole())), Date.now()))).toBeUndefined();
    expect(refusal(() => wholes.decode(Buffer.from(rows.encode(row())), Date.now()))).toBe('schema');
    expect(refusal(() => rows.decode(Buffer.from(wholes.encode(whole())), Date.now()))).toBe('schema');
  });

  it.each([
    ['fewer tensors than outputs', { createdAt: 1, tensors: row().tensors.slice(0, 2) }],
    ['more tensors than outputs', { createdAt: 1, tensors: [...row().tensors, f32([1], [1])] }],
    ['another dtype', withTensor(row(), 0, { dtype: DType.FLOAT64, dims: [3], data: Buffer.alloc(24) })],
    ['another rank', withTensor(row(), 0, f32([3, 1], [1, 2, 3]))],
    ['another fixed dim', withTensor(row(), 0, f32([4], [1, 2, 3, 4]))],
    [
      'a byte length that does not match the dims',
      withTensor(row(), 0, { dtype: DType.FLOAT32, dims: [3], data: Buffer.alloc(8) }),
    ],
    ['string data short of its element count', withTensor(row(), 2, str([2], ['only one']))],
    ['string data past its element count', withTensor(row(), 2, str([2], ['a', 'b', 'c']))],
    [
      'string data cut inside an element',
      withTensor(row(), 2, {
        dtype: DType.STRING,
        dims: [2],
        data: encodeStrings(['ab', 'cd']).subarray(0, 11),
      }),
    ],
  ])('refuses a value with %s as schema', (_name, p: Prediction) => {
    expect(refusal(() => rows.decode(Buffer.from(rows.encode(p)), Date.now()))).toBe('schema');
  });

  it('accepts any rank for an output that declares no shape, but still checks its byte length', () => {
    const free = predictionKind([{ name: 'y', dtype: DType.FLOAT32, dims: undefined }], true, TTL);
    const ok = { createdAt: 1, tensors: [f32([2, 2], [1, 2, 3, 4])] };
    expect(refusal(() => free.decode(Buffer.from(free.encode(ok)), 1))).toBeUndefined();
    const bad = { createdAt: 1, tensors: [{ dtype: DType.FLOAT32, dims: [2, 2], data: Buffer.alloc(12) }] };
    expect(refusal(() => free.decode(Buffer.from(free.encode(bad)), 1))).toBe('schema');
  });

  it.each([
    ['an empty payload', Buffer.alloc(0)],
    ['an unknown dtype', Buffer.from([1, 99, 0, 0, 0, 0, 0])],
    ['a payload cut short', Buffer.from(rows.encode(row())).subarray(0, 20)],
    ['trailing bytes', Buffer.concat([Buffer.from(rows.encode(row())), Buffer.from([0])])],
  ])('refuses %s as format', (_name, payload) => {
    expect(refusal(() => rows.decode(payload, Date.now()))).toBe('format');
  });

  it('refuses a value computed more than 60 s in the future, and accepts clock drift below that', () => {
    const payload = Buffer.from(rows.encode(row()));
    expect(refusal(() => rows.decode(payload, Date.now() + 61_000))).toBe('future');
    expect(refusal(() => rows.decode(payload, Date.now() + 30_000))).toBeUndefined();
  });

  it('costs more in L1 as its data grows, bookkeeping included', () => {
    const sized = (bytes: number): Prediction => ({
      createdAt: 1,
      tensors: [{ dtype: DType.UINT8, dims: [bytes], data: Buffer.alloc(bytes) }],
    });
    expect(rows.sizeOf(sized(0))).toBeGreaterThan(ENTRY_OVERHEAD_BYTES);
    expect(rows.sizeOf(sized(1000)) - rows.sizeOf(sized(100))).toBe(900);
  });

  it('keeps the L1 lifetime and spreads the L2 lifetime within ±jitter', () => {
    const l2 = Array.from({ length: 2000 }, () => rows.ttl(row()));
    expect(new Set(l2.map((t) => t.l1Ms))).toEqual(new Set([5_000]));
    const ms = l2.map((t) => t.l2Ms);
    expect(Math.min(...ms)).toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...ms)).toBeLessThanOrEqual(110_000);
    // Spread over the range, not stuck at the base.
    expect(Math.min(...ms)).toBeLessThan(95_000);
    expect(Math.max(...ms)).toBeGreaterThan(105_000);
    const fixed = predictionKind(OUTPUTS, true, { ...TTL, l2Jitter: 0 });
    expect(fixed.ttl(row()).l2Ms).toBe(100_000);
  });
});
