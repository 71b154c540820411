import { describe, expect, it } from 'vitest';
import { toWire } from '../../src/api/output_tensor.js';
import { decodePredictRequest } from '../../src/api/wire/predict_request.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';
import { serializeRequest } from '../helpers/wire.js';

const tensor = (
  dtype: DType,
  view: ArrayBufferView,
  dims = [view.byteLength / bytesPer(view)],
): HostTensor => ({
  dtype,
  dims,
  data: Buffer.from(view.buffer, view.byteOffset, view.byteLength),
});
const bytesPer = (view: ArrayBufferView) =>
  (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;

// Each dtype, and the typed field and values it goes out in when asked.
const CASES: [string, HostTensor, string, unknown[]][] = [
  [
    'float32',
    tensor(DType.FLOAT32, new Float32Array([1.5, -0, Number.NaN])),
    'float_data',
    [1.5, -0, Number.NaN],
  ],
  ['float64', tensor(DType.FLOAT64, new Float64Array([0.1, -1e300])), 'double_data', [0.1, -1e300]],
  ['int32', tensor(DType.INT32, new Int32Array([-2147483648, 7])), 'int32_data', [-2147483648, 7]],
  ['int16', tensor(DType.INT16, new Int16Array([-32768, 32767])), 'int32_data', [-32768, 32767]],
  ['int8', tensor(DType.INT8, new Int8Array([-128, 127])), 'int32_data', [-128, 127]],
  ['uint16', tensor(DType.UINT16, new Uint16Array([65535])), 'int32_data', [65535]],
  ['float16 bits', tensor(DType.FLOAT16, new Uint16Array([0x3c00, 0x8000])), 'int32_data', [0x3c00, 0x8000]],
  ['uint8', tensor(DType.UINT8, new Uint8Array([0, 255])), 'int32_data', [0, 255]],
  ['bool', tensor(DType.BOOL, new Uint8Array([1, 0])), 'int32_data', [1, 0]],
  [
    'int64',
    tensor(DType.INT64, new BigInt64Array([-9007199254740993n, 2n])),
    'int64_data',
    ['-9007199254740993', '2'],
  ],
  ['uint32', tensor(DType.UINT32, new Uint32Array([4294967295])), 'uint64_data', ['4294967295']],
  [
    'uint64',
    tensor(DType.UINT64, new BigUint64Array([18446744073709551615n])),
    'uint64_data',
    ['18446744073709551615'],
  ],
];

const strings = (): HostTensor => ({ dtype: DType.STRING, dims: [2, 1], data: encodeStrings(['a', 'bé']) });

/** The tensor `toWire` gives, sent as a request input and read back by the service's own decoder. */
const throughTheWire = (wire: object) =>
  decodePredictRequest(serializeRequest({ model: 'm', inputs: { y: wire } })).inputs.get('y') as HostTensor;

describe('output tensors on the wire', () => {
  it.each(CASES)('sends %s as raw bytes by default', (_name, t) => {
    const wire = toWire(t, false);
    expect(wire).toEqual({ dtype: t.dtype, shape: t.dims, raw: t.data });
    expect(throughTheWire(wire).data.equals(t.data)).toBe(true);
  });

  it.each(CASES)('sends %s in its typed field when asked, values exact', (_name, t, field, values) => {
    const wire = toWire(t, true) as Record<string, unknown>;
    expect(Object.keys(wire).sort()).toEqual(['dtype', field, 'shape'].sort());
    expect(wire[field]).toEqual(values);
    const back = throughTheWire(wire);
    expect(back.dims).toEqual(t.dims);
    expect(back.data.equals(t.data)).toBe(true);
  });

  it('reads typed values from data that is not aligned for its dtype', () => {
    const shifted = Buffer.alloc(17);
    shifted.writeDoubleLE(2.5, 1);
    shifted.writeDoubleLE(-3, 9);
    const t = { dtype: DType.FLOAT64, dims: [2], data: shifted.subarray(1) };
    expect(toWire(t, true).double_data).toEqual([2.5, -3]);
  });

  it.each([false, true])('always sends strings in string_data (typed: %s)', (typed) => {
    const wire = toWire(strings(), typed);
    expect(wire.raw).toBeUndefined();
    expect(wire.shape).toEqual([2, 1]);
    expect(wire.string_data?.map(String)).toEqual(['a', 'bé']);
    expect(throughTheWire(wire).data.equals(strings().data)).toBe(true);
  });
});
