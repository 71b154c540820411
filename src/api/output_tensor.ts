import { aligned } from '../tensor/canonical.js';
import { DType, dtypeSize } from '../tensor/dtypes.js';
import { elementCount, type HostTensor } from '../tensor/host_tensor.js';
import { decodeStrings } from '../tensor/strings.js';

/** infercache.v1.Tensor as the response serializer (protobufjs, via proto-loader) takes it. */
interface WireTensor {
  dtype: number;
  shape: number[];
  raw: Buffer;
  float_data: number[];
  double_data: number[];
  int32_data: number[];
  int64_data: string[];
  uint64_data: string[];
  string_data: Buffer[];
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
