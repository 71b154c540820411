import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';

// Protobuf encodings for tests of the request decoder: the service's own
// proto-loader (protobufjs) serializer for well-formed messages, and a few
// hand-written field encoders for what protobufjs never writes (unpacked
// repeated fields, unknown fields, repeated messages, invalid UTF-8).

const predict = (() => {
  const method = inferCacheService(loadPackageDefinition()).Predict;
  if (method === undefined) throw new Error('the service has no Predict method');
  return method;
})();

/** A PredictRequest object as the proto-loader serializer takes it. */
export const serializeRequest = (request: object): Buffer => predict.requestSerialize(request);

/** infercache.v1.Tensor as proto-loader hands it over (longs as strings, every field present). */
export interface ObjectTensor {
  dtype: number;
  shape: string[];
  raw: Buffer;
  float_data: number[];
  double_data: number[];
  int32_data: number[];
  int64_data: string[];
  uint64_data: string[];
  string_data: Buffer[];
}

/** The inputs of a request as protobufjs decodes it. */
export function deserializeInputs(bytes: Buffer): Record<string, ObjectTensor> {
  return (predict.requestDeserialize(bytes) as { inputs: Record<string, ObjectTensor> }).inputs;
}

/**
 * A second, independent decoding of a well-formed tensor: protobufjs's
 * objects mapped to bytes the plain way, through typed arrays. The
 * hand-written wire decoder must agree with it byte for byte.
 */
export function referenceTensor(t: ObjectTensor): HostTensor {
  const dims = t.shape.map(Number);
  const bytes = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const dtype = t.dtype as DType;
  if (t.raw.length > 0) return { dtype, dims, data: Buffer.from(t.raw) };
  const data = ((): Buffer => {
    switch (dtype) {
      case DType.FLOAT32:
        return bytes(Float32Array.from(t.float_data));
      case DType.FLOAT64:
        return bytes(Float64Array.from(t.double_data));
      case DType.INT32:
        return bytes(Int32Array.from(t.int32_data));
      case DType.INT16:
        return bytes(Int16Array.from(t.int32_data));
      case DType.INT8:
        return bytes(Int8Array.from(t.int32_data));
      case DType.UINT16:
      case DType.FLOAT16:
        return bytes(Uint16Array.from(t.int32_data));
      case DType.UINT8:
      case DType.BOOL:
        return bytes(Uint8Array.from(t.int32_data));
      case DType.INT64:
        return bytes(BigInt64Array.from(t.int64_data, (v) => BigInt(v)));
      case DType.UINT32:
        return bytes(Uint32Array.from(t.uint64_data.map(Number)));
      case DType.UINT64:
        return bytes(BigUint64Array.from(t.uint64_data, (v) => BigInt(v)));
      case DType.STRING:
        return encodeStrings(t.string_data);
    }
  })();
  return { dtype, dims, data };
}

export const WIRE = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;

/** A varint of the low 64 bits of `value` (negative numbers take ten bytes, as protobuf writes them). */
export function varint(value: bigint | number): Buffer {
  let x = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) byte |= 0x80;
    out.push(byte);
  } while (x !== 0n);
  return Buffer.from(out);
}

export const tag = (field: number, wire: number): Buffer => varint((field << 3) | wire);

/** A length-delimited field. */
export const len = (field: number, bytes: Buffer | string): Buffer => {
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return Buffer.concat([tag(field, WIRE.LEN), varint(body.length), body]);
};

/** A varint field. */
export const num = (field: number, value: bigint | number): Buffer =>
  Buffer.concat([tag(field, WIRE.VARINT), varint(value)]);

/** A fixed32 field holding a float32, or a fixed64 field holding a float64. */
export function fixed(field: number, value: number, size: 4 | 8): Buffer {
  const body = Buffer.alloc(size);
  if (size === 4) body.writeFloatLE(value);
  else body.writeDoubleLE(value);
  return Buffer.concat([tag(field, size === 4 ? WIRE.FIXED32 : WIRE.FIXED64), body]);
}

/** A PredictRequest of `model` with one input `name` whose Tensor message is `tensor`. */
export function requestWith(tensor: Buffer, name: Buffer | string = 'x', model = 'm'): Buffer {
  return Buffer.concat([len(1, model), len(3, Buffer.concat([len(1, name), len(2, tensor)]))]);
}
