import type { NameBytes } from './row_map_reader.js';

/** A value as a row holds it (feature_row.ts FeatureValue; restated here, which that module imports). */
type FeatureValue = number | bigint | boolean | string | Uint8Array | Float32Array | null;

/**
 * Writes a row's values as the msgpack map a stored row holds (feature name
 * -> value, every feature of the view, in its order), after `before` bytes
 * left for the caller (the write time). The mirror of readRowMap, and
 * hand-written for the same reason: msgpackr packed an object built per row
 * (a keyed store per feature, then its keys walked and encoded again), which
 * was a tenth of a bulk load's time. The bytes are plain msgpack, read by
 * msgpackr as well as by readRowMap: integers in their smallest encoding,
 * other numbers as float64, bigints as int64/uint64, strings as str, bytes
 * and vectors (little-endian float32) as bin.
 */
export function writeRowMap(names: NameBytes, values: readonly FeatureValue[], before: number): Buffer {
  let size = before + mapHeaderSize(names.length);
  for (let i = 0; i < names.length; i++) {
    size += stringHeaderSize((names[i] as Uint8Array).length) + (names[i] as Uint8Array).length;
    size += valueSize(values[i] ?? null);
  }
  const out = Buffer.allocUnsafe(size);
  let at = writeMapHeader(out, before, names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as Uint8Array;
    at = writeStringHeader(out, at, name.length);
    out.set(name, at);
    at = writeValue(out, at + name.length, values[i] ?? null);
  }
  return out;
}

function mapHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

function writeMapHeader(out: Buffer, at: number, n: number): number {
  if (n < 16) {
    out[at] = 0x80 | n;
    return at + 1;
  }
  if (n < 0x10000) {
    out[at] = 0xde;
    out.writeUInt16BE(n, at + 1);
    return at + 3;
  }
  out[at] = 0xdf;
  out.writeUInt32BE(n, at + 1);
  return at + 5;
}

function stringHeaderSize(length: number): number {
  return length < 32 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeStringHeader(out: Buffer, at: number, length: number): number {
  if (length < 32) {
    out[at] = 0xa0 | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = 0xd9;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = 0xda;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = 0xdb;
  out.writeUInt32BE(length, at + 1);
  return at + 5;
}

function binHeaderSize(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeBinHeader(out: Buffer, at: number, length: number): number {
  if (length < 0x100) {
    out[at] = 0xc4;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = 0xc5;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = 0xc6;
  out.writeUInt32BE(length, at + 1);
  return at + 5;
}

// Integers msgpack holds in its own encodings; others (and -0, kept exact) are float64.
const isSmallInt = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32 && !Object.is(v, -0);

function valueSize(v: FeatureValue): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'number') {
    if (!isSmallInt(v)) return 9;
    if (v >= 0) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
    return v >= -32 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  }
  if (typeof v === 'bigint') return 9;
  if (typeof v === 'string') {
    const length = Buffer.byteLength(v);
    return stringHeaderSize(length) + length;
  }
  return binHeaderSize(v.byteLength) + v.byteLength;
}

function writeValue(out: Buffer, at: number, v: FeatureValue): number {
  if (v === null) {
    out[at] = 0xc0;
    return at + 1;
  }
  if (typeof v === 'boolean') {
    out[at] = v ? 0xc3 : 0xc2;
    return at + 1;
  }
  if (typeof v === 'number') return writeNumber(out, at, v);
  if (typeof v === 'bigint') {
    if (v >= 0n) {
      out[at] = 0xcf;
      out.writeBigUInt64BE(v, at + 1);
    } else {
      out[at] = 0xd3;
      out.writeBigInt64BE(v, at + 1);
    }
    return at + 9;
  }
  if (typeof v === 'string') {
    const length = Buffer.byteLength(v);
    const start = writeStringHeader(out, at, length);
    return start + out.write(v, start, 'utf8');
  }
  const start = writeBinHeader(out, at, v.byteLength);
  out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), start);
  return start + v.byteLength;
}

function writeNumber(out: Buffer, at: number, v: number): number {
  if (!isSmallInt(v)) {
    out[at] = 0xcb;
    out.writeDoubleBE(v, at + 1);
    return at + 9;
  }
  if (v >= 0) {
    if (v < 0x80) {
      out[at] = v;
      return at + 1;
    }
    if (v < 0x100) {
      out[at] = 0xcc;
      out[at + 1] = v;
      return at + 2;
    }
    if (v < 0x10000) {
      out[at] = 0xcd;
      out.writeUInt16BE(v, at + 1);
      return at + 3;
    }
    out[at] = 0xce;
    out.writeUInt32BE(v, at + 1);
    return at + 5;
  }
  if (v >= -32) {
    out[at] = v & 0xff;
    return at + 1;
  }
  if (v >= -0x80) {
    out[at] = 0xd0;
    out.writeInt8(v, at + 1);
    return at + 2;
  }
  if (v >= -0x8000) {
    out[at] = 0xd1;
    out.writeInt16BE(v, at + 1);
    return at + 3;
  }
  out[at] = 0xd2;
  out.writeInt32BE(v, at + 1);
  return at + 5;
}
