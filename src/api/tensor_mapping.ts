import { invalidArgument } from '../errors.js';
import { aligned } from '../tensor/canonical.js';
import { DType, dtypeName, dtypeSize, isDType } from '../tensor/dtypes.js';
import { elementCount, type HostTensor } from '../tensor/host_tensor.js';
import { decodeStrings, encodeStrings } from '../tensor/strings.js';

/** infercache.v1.Tensor as @grpc/proto-loader hands it over (see api/proto.ts options). */
export interface WireTensor {
  dtype: number;
  shape: (string | number)[];
  raw: Buffer;
  float_data: number[];
  double_data: number[];
  int32_data: number[];
  int64_data: (string | number)[];
  uint64_data: (string | number)[];
  string_data: Buffer[];
}

const MAX_RANK = 32;
// Matches onnxruntime's limit on a dimension and keeps products exact in doubles.
const MAX_DIM = 2 ** 31 - 1;

type TypedField = 'float_data' | 'double_data' | 'int32_data' | 'int64_data' | 'uint64_data' | 'string_data';

/** The typed field that carries each dtype, as in ONNX's TensorProto. */
const FIELD_OF: Record<DType, TypedField> = {
  [DType.FLOAT32]: 'float_data',
  [DType.FLOAT64]: 'double_data',
  [DType.INT32]: 'int32_data',
  [DType.INT16]: 'int32_data',
  [DType.INT8]: 'int32_data',
  [DType.UINT16]: 'int32_data',
  [DType.UINT8]: 'int32_data',
  [DType.BOOL]: 'int32_data',
  [DType.FLOAT16]: 'int32_data',
  [DType.INT64]: 'int64_data',
  [DType.UINT32]: 'uint64_data',
  [DType.UINT64]: 'uint64_data',
  [DType.STRING]: 'string_data',
};

const TYPED_FIELDS: readonly TypedField[] = [
  'float_data',
  'double_data',
  'int32_data',
  'int64_data',
  'uint64_data',
  'string_data',
];

/** Proto tensor -> HostTensor, refusing anything malformed with a message naming `where`. */
export function fromWire(where: string, wire: WireTensor): HostTensor {
  if (!isDType(wire.dtype)) throw invalidArgument(`${where}: dtype is missing or unknown (${wire.dtype})`);
  const dtype = wire.dtype;
  if (wire.shape.length > MAX_RANK)
    throw invalidArgument(`${where}: rank ${wire.shape.length} exceeds ${MAX_RANK}`);
  const dims = wire.shape.map((d) => {
    const n = Number(d);
    if (!Number.isInteger(n) || n < 0 || n > MAX_DIM)
      throw invalidArgument(`${where}: bad dimension ${d} in shape`);
    return n;
  });
  const count = elementCount(dims);
  const used = TYPED_FIELDS.filter((f) => wire[f].length > 0);
  if (wire.raw.length > 0) used.push('raw' as TypedField);
  if (used.length > 1)
    throw invalidArgument(`${where}: data given in several fields (${used.join(', ')}); use one`);
  const field = used[0];
  if (field === undefined) {
    if (count !== 0) throw invalidArgument(`${where}: no data for shape [${dims.join(', ')}]`);
    return { dtype, dims, data: Buffer.alloc(0) };
  }
  if ((field as string) === 'raw') {
    if (dtype === DType.STRING) throw invalidArgument(`${where}: string tensors take string_data, not raw`);
    return { dtype, dims, data: aligned(wire.raw, dtypeSize(dtype)) };
  }
  if (field !== FIELD_OF[dtype]) {
    throw invalidArgument(
      `${where}: ${dtypeName(dtype)} data goes in ${FIELD_OF[dtype]} or raw, not ${field}`,
    );
  }
  const values = wire[field];
  if (values.length !== count) {
    throw invalidArgument(
      `${where}: ${values.length} values given, shape [${dims.join(', ')}] needs ${count}`,
    );
  }
  return { dtype, dims, data: typedToBytes(where, dtype, values) };
}

function typedToBytes(where: string, dtype: DType, values: readonly unknown[]): Buffer {
  const bytes = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const ints = (min: number, max: number) => {
    for (const v of values as number[]) {
      if (v < min || v > max)
        throw invalidArgument(`${where}: value ${v} out of range for ${dtypeName(dtype)}`);
    }
    return values as number[];
  };
  const bigs = (signed: boolean) =>
    (values as (string | number)[]).map((v) => {
      const b = BigInt(v);
      return signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
    });
  switch (dtype) {
    case DType.FLOAT32:
      return bytes(Float32Array.from(values as number[]));
    case DType.FLOAT64:
      return bytes(Float64Array.from(values as number[]));
    case DType.INT32:
      return bytes(Int32Array.from(values as number[]));
    case DType.INT16:
      return bytes(Int16Array.from(ints(-32768, 32767)));
    case DType.INT8:
      return bytes(Int8Array.from(ints(-128, 127)));
    case DType.UINT16:
    case DType.FLOAT16:
      return bytes(Uint16Array.from(ints(0, 65535)));
    case DType.UINT8:
      return bytes(Uint8Array.from(ints(0, 255)));
    case DType.BOOL:
      return bytes(Uint8Array.from(ints(0, 1)));
    case DType.INT64:
      return bytes(BigInt64Array.from(bigs(true)));
    case DType.UINT32:
      return bytes(Uint32Array.from(ints(0, 0xffffffff)));
    case DType.UINT64:
      return bytes(BigUint64Array.from(bigs(false)));
    case DType.STRING:
      return encodeStrings(values as Buffer[]);
  }
}

/** HostTensor -> proto tensor: raw bytes, or the typed field when asked for. */
export function toWire(tensor: HostTensor, typed: boolean): Partial<WireTensor> {
  if (!typed && tensor.dtype !== DType.STRING)
    return { dtype: tensor.dtype, shape: tensor.dims as number[], raw: tensor.data };
  const base = { dtype: tensor.dtype, shape: tensor.dims as number[] };
  const count = elementCount(tensor.dims);
  if (tensor.dtype === DType.STRING) {
    return { ...base, string_data: decodeStrings(tensor.data, count).map((s) => Buffer.from(s, 'utf8')) };
  }
  const d = aligned(tensor.data, dtypeSize(tensor.dtype));
  const view = <T>(C: new (b: ArrayBufferLike, o: number, n: number) => T) =>
    new C(d.buffer, d.byteOffset, count);
  switch (tensor.dtype) {
    case DType.FLOAT32:
      return { ...base, float_data: Array.from(view(Float32Array)) };
    case DType.FLOAT64:
      return { ...base, double_data: Array.from(view(Float64Array)) };
    case DType.INT32:
      return { ...base, int32_data: Array.from(view(Int32Array)) };
    case DType.INT16:
      return { ...base, int32_data: Array.from(view(Int16Array)) };
    case DType.INT8:
      return { ...base, int32_data: Array.from(view(Int8Array)) };
    case DType.UINT16:
    case DType.FLOAT16:
      return { ...base, int32_data: Array.from(view(Uint16Array)) };
    case DType.UINT8:
    case DType.BOOL:
      return { ...base, int32_data: Array.from(view(Uint8Array)) };
    case DType.INT64:
      return { ...base, int64_data: Array.from(view(BigInt64Array), String) };
    case DType.UINT32:
      return { ...base, uint64_data: Array.from(view(Uint32Array), String) };
    case DType.UINT64:
      return { ...base, uint64_data: Array.from(view(BigUint64Array), String) };
  }
}
