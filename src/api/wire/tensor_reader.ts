import { InferCacheError, invalidArgument } from '../../errors.js';
import { DType, dtypeName, dtypeSize, isDType } from '../../tensor/dtypes.js';
import { elementCount, type HostTensor } from '../../tensor/host_tensor.js';
import { ByteSink } from './byte_sink.js';
import {
  type ProtoReader,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  WireError,
} from './proto_reader.js';

const MAX_RANK = 32;
// Matches onnxruntime's limit on a dimension and keeps products exact in doubles.
const MAX_DIM = 2 ** 31 - 1;

type Form =
  | 'raw'
  | 'float_data'
  | 'double_data'
  | 'int32_data'
  | 'int64_data'
  | 'uint64_data'
  | 'string_data';

/** The typed field that carries each dtype, as in ONNX's TensorProto. */
const FIELD_OF: Record<DType, Form> = {
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

// Field numbers of infercache.v1.Tensor.
const FORM_OF_FIELD: Record<number, Form> = {
  3: 'raw',
  4: 'float_data',
  5: 'double_data',
  6: 'int32_data',
  7: 'int64_data',
  8: 'uint64_data',
  9: 'string_data',
};

/**
 * Reads one infercache.v1.Tensor from r.pos to `end` into a HostTensor:
 * dtype, shape and data in exactly one form (raw or the dtype's typed
 * field, packed or not), checked as it is read. `where` names the tensor in
 * messages ("input \"x\"").
 */
/**
 * Names the tensor in error messages. Built only when a message is: the
 * quoting it takes would otherwise be paid by every valid request.
 */
export interface Where {
  toString(): string;
}

export function readTensor(r: ProtoReader, end: number, where: Where): HostTensor {
  let dtype = 0;
  const dims: number[] = [];
  let raw: Buffer | undefined;
  const sinks = new Map<Form, ByteSink>();
  let strings = 0;
  let stringSink: ByteSink | undefined;
  const half = { lo: 0, hi: 0 };
  while (r.pos < end) {
    const key = r.tag();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1) {
      expectWire(wire, WIRE_VARINT, 'dtype');
      dtype = r.varint32();
    } else if (field === 2) {
      readDims(r, wire, dims, where, half);
    } else if (field === 3) {
      expectWire(wire, WIRE_LEN, 'raw');
      raw = r.bytes();
    } else if (field === 4 || field === 5) {
      readFixed(r, wire, field === 4 ? 4 : 8, sinkOf(sinks, FORM_OF_FIELD[field] as Form));
    } else if (field === 6) {
      readVarints(r, wire, sinkOf(sinks, 'int32_data'), undefined, 'int32_data');
    } else if (field === 7 || field === 8) {
      readVarints(r, wire, sinkOf(sinks, FORM_OF_FIELD[field] as Form), half, FORM_OF_FIELD[field] as string);
    } else if (field === 9) {
      expectWire(wire, WIRE_LEN, 'string_data');
      const start = r.span();
      const stop = r.pos;
      stringSink ??= sinkOf(sinks, 'string_data');
      stringSink.u32(stop - start);
      stringSink.bytes(r.buf, start, stop);
      strings++;
    } else {
      r.skip(wire);
    }
  }
  if (r.pos !== end) throw new WireError('tensor runs past its field');
  return build(where, dtype, dims, raw, sinks, strings);
}

function sinkOf(sinks: Map<Form, ByteSink>, form: Form): ByteSink {
  let s = sinks.get(form);
  if (s === undefined) {
    s = new ByteSink();
    sinks.set(form, s);
  }
  return s;
}

/**
 * Enters a repeated varint field: for a packed one, returns where its values
 * end and leaves `pos` at the first; for a single value, returns -1. Plain
 * functions and loops rather than a callback per field: a closure per field
 * was most of the cost of a request of unpacked values.
 */
function enter(r: ProtoReader, wire: number, field: string): number {
  if (wire === WIRE_VARINT) return -1;
  expectWire(wire, WIRE_LEN, field);
  const start = r.span();
  const stop = r.pos;
  r.pos = start;
  return stop;
}

function leave(r: ProtoReader, stop: number): void {
  if (stop !== -1 && r.pos !== stop) throw new WireError('packed field runs past its length');
}

/** int32_data (32-bit words) or, given `half`, int64/uint64_data (64-bit): packed or not. */
function readVarints(
  r: ProtoReader,
  wire: number,
  s: ByteSink,
  half: { lo: number; hi: number } | undefined,
  field: string,
): void {
  const stop = enter(r, wire, field);
  let first = true;
  while (first || r.pos < stop) {
    if (!first) r.element();
    first = false;
    if (stop !== -1 && r.pos >= stop) break;
    if (half === undefined) s.u32(r.varint32());
    else {
      r.varint64(half);
      s.u64(half.lo, half.hi);
    }
  }
  leave(r, stop);
}

function readDims(
  r: ProtoReader,
  wire: number,
  dims: number[],
  where: Where,
  half: { lo: number; hi: number },
): void {
  const stop = enter(r, wire, 'shape');
  let first = true;
  while (first || r.pos < stop) {
    if (!first) r.element();
    first = false;
    if (stop !== -1 && r.pos >= stop) break;
    r.varint64(half);
    if (half.hi !== 0 || half.lo > MAX_DIM) throw invalidArgument(`${where}: bad dimension in shape`);
    if (dims.length >= MAX_RANK) throw invalidArgument(`${where}: rank exceeds ${MAX_RANK}`);
    dims.push(half.lo);
  }
  leave(r, stop);
}

/** float_data or double_data: packed (one span of whole values) or one value per field. */
function readFixed(r: ProtoReader, wire: number, size: 4 | 8, s: ByteSink): void {
  if (wire === WIRE_LEN) {
    const start = r.span();
    const stop = r.pos;
    if ((stop - start) % size !== 0) throw new WireError('packed floating-point data is not whole');
    // One bulk copy, no walk: its cost is that of its bytes, like raw.
    s.bytes(r.buf, start, stop);
    return;
  }
  expectWire(wire, size === 4 ? WIRE_FIXED32 : WIRE_FIXED64, size === 4 ? 'float_data' : 'double_data');
  const at = size === 4 ? r.fixed32Span() : r.fixed64Span();
  s.bytes(r.buf, at, at + size);
}

function expectWire(wire: number, want: number, field: string): void {
  if (wire !== want) throw new WireError(`${field} has wire type ${wire}`);
}

function build(
  where: Where,
  dtypeNumber: number,
  dims: number[],
  raw: Buffer | undefined,
  sinks: Map<Form, ByteSink>,
  strings: number,
): HostTensor {
  if (!isDType(dtypeNumber)) throw invalidArgument(`${where}: dtype is missing or unknown (${dtypeNumber})`);
  const dtype = dtypeNumber;
  const count = elementCount(dims);
  const used: Form[] = [...sinks].filter(([, s]) => s.length > 0).map(([form]) => form);
  if (raw !== undefined && raw.length > 0) used.push('raw');
  if (used.length > 1)
    throw invalidArgument(`${where}: data given in several fields (${used.join(', ')}); use one`);
  const form = used[0];
  if (form === undefined) {
    if (count !== 0) throw invalidArgument(`${where}: no data for shape [${dims.join(', ')}]`);
    return { dtype, dims, data: Buffer.alloc(0) };
  }
  if (form === 'raw') {
    if (dtype === DType.STRING) throw invalidArgument(`${where}: string tensors take string_data, not raw`);
    // As it lies in the message, at any offset: nothing on the way reads it
    // through typed-array words (canonical.ts works on bytes; a model run
    // copies its feeds into buffers of their own).
    return { dtype, dims, data: raw as Buffer };
  }
  if (form !== FIELD_OF[dtype]) {
    throw invalidArgument(
      `${where}: ${dtypeName(dtype)} data goes in ${FIELD_OF[dtype]} or raw, not ${form}`,
    );
  }
  const data = (sinks.get(form) as ByteSink).take();
  const given = form === 'string_data' ? strings : data.length / wireSize(form);
  if (given !== count) {
    throw invalidArgument(`${where}: ${given} values given, shape [${dims.join(', ')}] needs ${count}`);
  }
  return { dtype, dims, data: narrow(where, dtype, form, data, count) };
}

function wireSize(form: Form): number {
  return form === 'float_data' || form === 'int32_data' ? 4 : 8;
}

/** Typed-field values in their dtype's own width, range-checked. */
function narrow(where: Where, dtype: DType, form: Form, data: Buffer, count: number): Buffer {
  if (form === 'float_data' || form === 'double_data' || form === 'string_data') return data;
  if (form === 'int64_data' || dtype === DType.UINT64) return data;
  const outOf = (v: number | bigint) =>
    new InferCacheError('E_INVALID_ARGUMENT', `${where}: value ${v} out of range for ${dtypeName(dtype)}`);
  if (form === 'uint64_data') {
    // UINT32 from uint64_data: the high half must be zero.
    const out = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) {
      if (data.readUInt32LE(8 * i + 4) !== 0) throw outOf(data.readBigUInt64LE(8 * i));
      out.writeUInt32LE(data.readUInt32LE(8 * i), 4 * i);
    }
    return out;
  }
  // int32_data: varints read as unsigned 32-bit words; reinterpret as int32.
  const words = new Int32Array(data.buffer, data.byteOffset, count);
  if (dtype === DType.INT32) return data;
  const [min, max] = INT32_FIELD_RANGE[dtype] as [number, number];
  const size = dtypeSize(dtype);
  const out = Buffer.alloc(count * size);
  for (let i = 0; i < count; i++) {
    const v = words[i] as number;
    if (v < min || v > max) throw outOf(v);
    if (size === 1) out[i] = v & 0xff;
    else out.writeUInt16LE(v & 0xffff, 2 * i);
  }
  return out;
}

const INT32_FIELD_RANGE: Partial<Record<DType, [number, number]>> = {
  [DType.INT16]: [-32768, 32767],
  [DType.INT8]: [-128, 127],
  [DType.UINT16]: [0, 65535],
  [DType.FLOAT16]: [0, 65535],
  [DType.UINT8]: [0, 255],
  [DType.BOOL]: [0, 1],
};
