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
  let size = before + headerSize(MAP, names.length);
  for (let i = 0; i < names.length; i++) {
    size += headerSize(STR, (names[i] as Uint8Array).length) + (names[i] as Uint8Array).length;
    size += valueSize(values[i] ?? null);
  }
  const out = Buffer.allocUnsafe(size);
  let at = writeHeader(out, before, MAP, names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as Uint8Array;
    at = writeHeader(out, at, STR, name.length);
    out.set(name, at);
    at = writeValue(out, at + name.length, values[i] ?? null);
  }
  return out;
}

/**
 * A family of msgpack length headers: a one-byte form (the length in the low
 * bits) below `fixBelow`, then forms with an 8-bit (where the family has one),
 * 16-bit and 32-bit big-endian length.
 */
interface Header {
  readonly fix: number;
  readonly fixBelow: number;
  readonly with8: number | undefined;
  readonly with16: number;
  readonly with32: number;
}
const MAP: Header = { fix: 0x80, fixBelow: 16, with8: undefined, with16: 0xde, with32: 0xdf };
const STR: Header = { fix: 0xa0, fixBelow: 32, with8: 0xd9, with16: 0xda, with32: 0xdb };
const BIN: Header = { fix: 0, fixBelow: 0, with8: 0xc4, with16: 0xc5, with32: 0xc6 };

function headerSize(h: Header, length: number): number {
  if (length < h.fixBelow) return 1;
  if (h.with8 !== undefined && length < 0x100) return 2;
  return length < 0x10000 ? 3 : 5;
}

function writeHeader(out: Buffer, at: number, h: Header, length: number): number {
  if (length < h.fixBelow) {
    out[at] = h.fix | length;
    return at + 1;
  }
  if (h.with8 !== undefined && length < 0x100) {
    out[at] = h.with8;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = h.with16;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = h.with32;
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
    return headerSize(STR, length) + length;
  }
  return headerSize(BIN, v.byteLength) + v.byteLength;
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
    const start = writeHeader(out, at, STR, length);
    return start + out.write(v, start, 'utf8');
  }
  const start = writeHeader(out, at, BIN, v.byteLength);
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
