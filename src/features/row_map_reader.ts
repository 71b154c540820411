import type { FeatureView } from './view.js';

/** A view's feature names as UTF-8 bytes, in its order: what a stored row's map keys are compared with. */
export type NameBytes = readonly Uint8Array[];

export function nameBytes(view: FeatureView): NameBytes {
  return view.features.map((f) => Buffer.from(f.name, 'utf8'));
}

// Where read() left off, and the value it read; module state, as in a
// tokenizer, so reading a value allocates nothing but the value itself.
let at = 0;
let value: unknown;
// The answer for a row this reader does not take (see readRowMap).
const ELSEWHERE = Symbol('elsewhere');

/**
 * Reads a stored row's msgpack map (feature name -> value) straight into
 * `raw`, by the position of each name in the view, and returns true; or
 * returns false for anything but a map of string
 * keys to scalar values (nil, bool, ints, floats, str, bin), or bytes that
 * do not end where the map does. `raw` may then hold part of the row: the
 * caller starts again from a fresh array with msgpackr, which also gives the
 * error for a malformed row.
 *
 * Hand-written because every L2 hit of a feature row runs it: msgpackr
 * builds an object per row with one keyed store per feature, and looking
 * each name up again afterwards cost more than the Redis round trip of a
 * 1,000-row call; this reads the same bytes the same way (msgpackr's own
 * rules: 64-bit integers as a number up to 2^53 in magnitude, else a bigint;
 * bin as a view of the bytes), without the object. Keys are compared as bytes
 * with the name the view has at that position (rows are written in view
 * order), then looked up by string when they differ (a row written before
 * the view gained or lost a feature). Entries of `raw` the map does not
 * name are left as they were.
 */
export function readRowMap(
  view: FeatureView,
  names: NameBytes,
  bytes: Buffer,
  start: number,
  raw: unknown[],
): boolean {
  const end = bytes.length;
  let p = start;
  if (p >= end) return false;
  const token = bytes[p++] as number;
  let count: number;
  if (token >= 0x80 && token <= 0x8f) count = token - 0x80;
  else if (token === 0xde && p + 2 <= end) {
    count = bytes.readUInt16BE(p);
    p += 2;
  } else return false;
  for (let k = 0; k < count; k++) {
    // Key: a string.
    if (p >= end) return false;
    const t = bytes[p++] as number;
    let length: number;
    if (t >= 0xa0 && t <= 0xbf) length = t - 0xa0;
    else if (t === 0xd9 && p < end) length = bytes[p++] as number;
    else return false;
    if (p + length > end) return false;
    const index = nameIndex(view, names, k, bytes, p, length);
    p += length;
    at = p;
    if (readScalar(bytes, end) === ELSEWHERE) return false;
    p = at;
    if (index >= 0) raw[index] = value;
  }
  return p === end;
}

/** Position in the view of the key at bytes[p, p + length), or -1 for a name the view does not have. */
function nameIndex(
  view: FeatureView,
  names: NameBytes,
  guess: number,
  bytes: Buffer,
  p: number,
  length: number,
): number {
  const expected = names[guess];
  if (expected !== undefined && expected.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (expected[i] !== bytes[p + i]) {
        same = false;
        break;
      }
    }
    if (same) return guess;
  }
  let key = bytes.toString('utf8', p, p + length);
  // As msgpackr reads it (a feature cannot be named __proto__).
  if (key === '__proto__') key = '__proto_';
  return view.index.get(key) ?? -1;
}

/** Reads the scalar at `at` into `value` and moves `at` past it; ELSEWHERE for any other token or a short read. */
function readScalar(b: Buffer, end: number): unknown {
  if (at >= end) return ELSEWHERE;
  const t = b[at++] as number;
  if (t <= 0x7f) {
    value = t;
    return undefined;
  }
  if (t >= 0xe0) {
    value = t - 0x100;
    return undefined;
  }
  if (t >= 0xa0 && t <= 0xbf) return readString(b, end, t - 0xa0);
  switch (t) {
    case 0xc0:
      value = null;
      return undefined;
    case 0xc2:
      value = false;
      return undefined;
    case 0xc3:
      value = true;
      return undefined;
    case 0xc4:
      return at + 1 <= end ? readBin(b, end, b[at++] as number) : ELSEWHERE;
    case 0xc5:
      if (at + 2 > end) return ELSEWHERE;
      at += 2;
      return readBin(b, end, b.readUInt16BE(at - 2));
    case 0xc6:
      if (at + 4 > end) return ELSEWHERE;
      at += 4;
      return readBin(b, end, b.readUInt32BE(at - 4));
    case 0xca:
      return fixed(end, 4) ? set(b.readFloatBE(at - 4)) : ELSEWHERE;
    case 0xcb:
      return fixed(end, 8) ? set(b.readDoubleBE(at - 8)) : ELSEWHERE;
    case 0xcc:
      return fixed(end, 1) ? set(b[at - 1]) : ELSEWHERE;
    case 0xcd:
      return fixed(end, 2) ? set(b.readUInt16BE(at - 2)) : ELSEWHERE;
    case 0xce:
      return fixed(end, 4) ? set(b.readUInt32BE(at - 4)) : ELSEWHERE;
    case 0xcf: {
      if (!fixed(end, 8)) return ELSEWHERE;
      const v = b.readBigUInt64BE(at - 8);
      return set(v <= TWO_53 ? Number(v) : v);
    }
    case 0xd0:
      return fixed(end, 1) ? set(b.readInt8(at - 1)) : ELSEWHERE;
    case 0xd1:
      return fixed(end, 2) ? set(b.readInt16BE(at - 2)) : ELSEWHERE;
    case 0xd2:
      return fixed(end, 4) ? set(b.readInt32BE(at - 4)) : ELSEWHERE;
    case 0xd3: {
      if (!fixed(end, 8)) return ELSEWHERE;
      const v = b.readBigInt64BE(at - 8);
      return set(v >= -TWO_53 && v <= TWO_53 ? Number(v) : v);
    }
    case 0xd9:
      return at + 1 <= end ? readString(b, end, b[at++] as number) : ELSEWHERE;
    case 0xda:
      if (at + 2 > end) return ELSEWHERE;
      at += 2;
      return readString(b, end, b.readUInt16BE(at - 2));
    case 0xdb:
      if (at + 4 > end) return ELSEWHERE;
      at += 4;
      return readString(b, end, b.readUInt32BE(at - 4));
    default:
      // Arrays, maps, extensions, 0xc1: msgpackr's to read or refuse.
      return ELSEWHERE;
  }
}

// msgpackr's 'auto' bound: 64-bit integers within ±2^53 read as numbers.
const TWO_53 = 2n ** 53n;

function set(v: unknown): undefined {
  value = v;
  return undefined;
}

function fixed(end: number, size: number): boolean {
  if (at + size > end) return false;
  at += size;
  return true;
}

function readString(b: Buffer, end: number, length: number): unknown {
  if (at + length > end) return ELSEWHERE;
  value = b.toString('utf8', at, at + length);
  at += length;
  return undefined;
}

function readBin(b: Buffer, end: number, length: number): unknown {
  if (at + length > end) return ELSEWHERE;
  value = b.subarray(at, at + length);
  at += length;
  return undefined;
}
