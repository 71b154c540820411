import { describe, expect, it } from 'vitest';
import { decodePredictRequest } from '../../../src/api/wire/predict_request.js';
import { InferCacheError } from '../../../src/errors.js';
import { DType } from '../../../src/tensor/dtypes.js';
import type { HostTensor } from '../../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../../src/tensor/strings.js';
import {
  deserializeInputs,
  fixed,
  len,
  num,
  referenceTensor,
  requestWith,
  serializeRequest,
} from '../../helpers/wire.js';

const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
const request = (inputs: Record<string, object>, more: object = {}) =>
  serializeRequest({ model: 'm', inputs, ...more });
const input = (bytes: Buffer, name = 'x') => decodePredictRequest(bytes).inputs.get(name) as HostTensor;

/** Decoded by the wire decoder and by protobufjs plus the plain mapping: both must agree. */
function bothWays(bytes: Buffer, name = 'x'): HostTensor {
  const ours = input(bytes, name);
  const reference = referenceTensor(deserializeInputs(bytes)[name] as never);
  expect(ours.dtype).toBe(reference.dtype);
  expect(ours.dims).toEqual(reference.dims);
  expect(ours.data.equals(reference.data)).toBe(true);
  return ours;
}

const B = (s: string) => Buffer.from(s, 'utf8');

// Typed values of every dtype, and the bytes they stand for.
const TYPED: [string, DType, Record<string, unknown[]>, ArrayBufferView][] = [
  [
    'float32 (NaN, -0, ±Infinity, subnormal)',
    DType.FLOAT32,
    { float_data: [1.5, -0, Number.POSITIVE_INFINITY, Number.NaN, 1e-45, -2] },
    new Float32Array([1.5, -0, Number.POSITIVE_INFINITY, Number.NaN, 1e-45, -2]),
  ],
  [
    'float64',
    DType.FLOAT64,
    { double_data: [0.1, -0, 1e308, -Infinity] },
    new Float64Array([0.1, -0, 1e308, -Infinity]),
  ],
  [
    'int32',
    DType.INT32,
    { int32_data: [-2147483648, -1, 0, 2147483647] },
    new Int32Array([-2147483648, -1, 0, 2147483647]),
  ],
  ['int16', DType.INT16, { int32_data: [-32768, -1, 32767] }, new Int16Array([-32768, -1, 32767])],
  ['int8', DType.INT8, { int32_data: [-128, -1, 127] }, new Int8Array([-128, -1, 127])],
  ['uint16', DType.UINT16, { int32_data: [0, 65535] }, new Uint16Array([0, 65535])],
  ['uint8', DType.UINT8, { int32_data: [0, 7, 255] }, new Uint8Array([0, 7, 255])],
  ['bool', DType.BOOL, { int32_data: [1, 0, 1] }, new Uint8Array([1, 0, 1])],
  [
    'float16 bits',
    DType.FLOAT16,
    { int32_data: [0x3c00, 0x7e00, 0x8000] },
    new Uint16Array([0x3c00, 0x7e00, 0x8000]),
  ],
  [
    'int64 beyond 2^53',
    DType.INT64,
    { int64_data: ['-9223372036854775808', '-9007199254740993', '9007199254740993', '9223372036854775807'] },
    new BigInt64Array([-9223372036854775808n, -9007199254740993n, 9007199254740993n, 9223372036854775807n]),
  ],
  [
    'uint64 up to 2^64-1',
    DType.UINT64,
    { uint64_data: ['0', '9007199254740993', '18446744073709551615'] },
    new BigUint64Array([0n, 9007199254740993n, 18446744073709551615n]),
  ],
  ['uint32', DType.UINT32, { uint64_data: ['0', '4294967295'] }, new Uint32Array([0, 4294967295])],
];

describe('tensor decoding', () => {
  it.each(TYPED)(
    'reads typed %s exactly, agreeing with protobufjs, and as the raw form does',
    (_n, dtype, fields, want) => {
      const count = Object.values(fields)[0]?.length ?? 0;
      const typed = bothWays(request({ x: { dtype, shape: [count], ...fields } }));
      expect(typed.dims).toEqual([count]);
      expect(typed.data.equals(bytesOf(want))).toBe(true);
      const raw = bothWays(request({ x: { dtype, shape: [count], raw: bytesOf(want) } }));
      expect(raw.data.equals(typed.data)).toBe(true);
    },
  );

  it('reads strings from string_data, empty and non-UTF-8 elements included', () => {
    const values = [B('a'), B('bé'), Buffer.alloc(0), Buffer.from([0xff, 0xfe])];
    const t = bothWays(request({ x: { dtype: DType.STRING, shape: [2, 2], string_data: values } }));
    expect(t.dims).toEqual([2, 2]);
    expect(t.data.equals(encodeStrings(values))).toBe(true);
  });

  it('reads dims of any rank, scalars and empty tensors included', () => {
    expect(bothWays(request({ x: { dtype: DType.FLOAT32, shape: [], float_data: [7] } })).dims).toEqual([]);
    const empty = bothWays(request({ x: { dtype: DType.FLOAT32, shape: [3, 0] } }));
    expect([empty.dims, empty.data.length]).toEqual([[3, 0], 0]);
    const deep = bothWays(
      request({ x: { dtype: DType.UINT8, shape: [1, 2, 1, 2], raw: Buffer.from([1, 2, 3, 4]) } }),
    );
    expect(deep.dims).toEqual([1, 2, 1, 2]);
  });

  it('hands back raw data where it sits in the message, at any offset, without a copy', () => {
    for (let pad = 0; pad < 8; pad++) {
      const message = request(
        { x: { dtype: DType.FLOAT64, shape: [1], raw: bytesOf(new Float64Array([2.5])) } },
        { version: 'v'.repeat(pad) },
      );
      const t = input(message);
      expect(t.data.buffer).toBe(message.buffer);
      expect(new Float64Array(Uint8Array.from(t.data).buffer)[0]).toBe(2.5);
    }
  });

  it('reads unpacked repeated fields, and packed and unpacked runs of one field together, as the packed form', () => {
    const shape = Buffer.concat([num(2, 2), num(2, 2)]);
    const unpacked: [DType, Buffer, object][] = [
      [
        DType.FLOAT32,
        Buffer.concat([1, -2, 3.5, 0].map((v) => fixed(4, v, 4))),
        { float_data: [1, -2, 3.5, 0] },
      ],
      [
        DType.FLOAT64,
        Buffer.concat([0.1, -0, 9, 1e300].map((v) => fixed(5, v, 8))),
        { double_data: [0.1, -0, 9, 1e300] },
      ],
      [
        DType.INT16,
        Buffer.concat([-1, 2, -32768, 0].map((v) => num(6, v))),
        { int32_data: [-1, 2, -32768, 0] },
      ],
      [
        DType.INT64,
        Buffer.concat([-1n, 2n ** 60n, -(2n ** 63n), 0n].map((v) => num(7, v))),
        { int64_data: ['-1', String(2n ** 60n), String(-(2n ** 63n)), '0'] },
      ],
      [
        DType.UINT64,
        Buffer.concat([2n ** 64n - 1n, 1n, 0n, 5n].map((v) => num(8, v))),
        { uint64_data: [String(2n ** 64n - 1n), '1', '0', '5'] },
      ],
    ];
    for (const [dtype, data, packedFields] of unpacked) {
      const hand = bothWays(requestWith(Buffer.concat([num(1, dtype), shape, data])));
      const packed = bothWays(request({ x: { dtype, shape: [2, 2], ...packedFields } }));
      expect(hand.dims).toEqual([2, 2]);
      expect(hand.data.equals(packed.data)).toBe(true);
    }
    // One packed run of two floats, then two unpacked ones.
    const run = Buffer.concat([len(4, bytesOf(new Float32Array([1, 2]))), fixed(4, 3, 4), fixed(4, 4, 4)]);
    const mixed = bothWays(requestWith(Buffer.concat([num(1, DType.FLOAT32), shape, run])));
    expect(mixed.data.equals(bytesOf(new Float32Array([1, 2, 3, 4])))).toBe(true);
  });

  it.each([
    ['an unknown dtype', { dtype: 42, shape: [1], float_data: [1] }, /dtype is missing or unknown \(42\)/],
    ['no dtype', { shape: [1], float_data: [1] }, /dtype is missing or unknown \(0\)/],
    [
      'a negative dimension',
      { dtype: DType.FLOAT32, shape: ['-1'], float_data: [1] },
      /bad dimension in shape/,
    ],
    [
      'a dimension past 2^31-1',
      { dtype: DType.FLOAT32, shape: [2 ** 31], float_data: [1] },
      /bad dimension in shape/,
    ],
    [
      'a rank past 32',
      { dtype: DType.FLOAT32, shape: new Array(33).fill(1), float_data: [1] },
      /rank exceeds 32/,
    ],
    [
      'two data forms',
      { dtype: DType.FLOAT32, shape: [1], float_data: [1], raw: Buffer.alloc(4) },
      /several fields/,
    ],
    [
      'the wrong typed field',
      { dtype: DType.FLOAT32, shape: [1], double_data: [1] },
      /float32 data goes in float_data or raw, not double_data/,
    ],
    [
      'a value count that does not match',
      { dtype: DType.FLOAT32, shape: [2], float_data: [1] },
      /1 values given, shape \[2\] needs 2/,
    ],
    [
      'an out-of-range int8',
      { dtype: DType.INT8, shape: [1], int32_data: [300] },
      /300 out of range for int8/,
    ],
    [
      'an out-of-range int16',
      { dtype: DType.INT16, shape: [1], int32_data: [-40000] },
      /-40000 out of range for int16/,
    ],
    [
      'a bool other than 0 or 1',
      { dtype: DType.BOOL, shape: [1], int32_data: [2] },
      /2 out of range for bool/,
    ],
    [
      'an out-of-range uint32',
      { dtype: DType.UINT32, shape: [1], uint64_data: ['4294967296'] },
      /4294967296 out of range for uint32/,
    ],
    [
      'raw strings',
      { dtype: DType.STRING, shape: [1], raw: Buffer.from('x') },
      /string tensors take string_data, not raw/,
    ],
    [
      'a string count that does not match',
      { dtype: DType.STRING, shape: [3], string_data: [B('a')] },
      /1 values given, shape \[3\] needs 3/,
    ],
    ['no data for a non-empty shape', { dtype: DType.FLOAT32, shape: [2] }, /no data for shape \[2\]/],
  ])('refuses %s with an invalid-argument message naming the tensor', (_name, tensor, message) => {
    const bytes = request({ x: tensor });
    expect(() => decodePredictRequest(bytes)).toThrow(message);
    expect(() => decodePredictRequest(bytes)).toThrow(/^input "x": /);
    expect(() => decodePredictRequest(bytes)).toThrow(InferCacheError);
  });
});
