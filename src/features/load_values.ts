import type { FeatureValue } from './feature_row.js';
import type { FeatureSpec, JoinKey } from './view.js';

/** Why one field of a row to load is refused; the loader adds the row and the field. */
export class BadField extends Error {}

// The same bounds as PutFeatures: ids are keys, not payloads (entity_keys.ts),
// and a string or bytes value is at most 1 MiB (feature_columns.ts).
const MAX_ID_BYTES = 256;
const MAX_VALUE_BYTES = 1 << 20;
const INT = /^[+-]?\d+$/;
// An integer already written the one way BigInt would print it, and exact as a double.
const CANONICAL_SAFE = /^(?:0|-?[1-9]\d{0,14})$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOATS: Record<string, number> = {
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Decimal integers this short are exact as doubles: no BigInt needed.
const SAFE_DIGITS = 15;

const shown = (v: unknown) => {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
};

/** A value of `spec`'s type from a CSV cell (not empty: an empty cell is null). */
export function valueFromText(spec: FeatureSpec, text: string): FeatureValue {
  switch (spec.type) {
    case 'float32':
      return float32(floatFromText(text));
    case 'float64':
      return floatFromText(text);
    case 'int32':
      return int32(intFromText(text));
    case 'int64':
      return int64FromText(text);
    case 'bool': {
      const t = text.trim().toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      throw new BadField(`${shown(text)} is not a bool (true, false, 1 or 0)`);
    }
    case 'string':
      return boundedString(text);
    case 'bytes':
      return base64(text);
    case 'float32_vector':
      return vectorFromText(spec.dim, text);
  }
}

/** A value of `spec`'s type from a JSON value (not null: null is null). */
export function valueFromJson(spec: FeatureSpec, v: unknown): FeatureValue {
  switch (spec.type) {
    case 'float32':
      return float32(jsonNumber(v));
    case 'float64':
      return jsonNumber(v);
    case 'int32':
      if (!Number.isInteger(v)) throw new BadField(`${shown(v)} is not an int32`);
      return int32(v as number);
    case 'int64':
      return int64FromJson(v);
    case 'bool':
      if (typeof v !== 'boolean') throw new BadField(`${shown(v)} is not true or false`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new BadField(`${shown(v)} is not a string`);
      return boundedString(v);
    case 'bytes':
      if (typeof v !== 'string') throw new BadField(`${shown(v)} is not a base64 string`);
      return base64(v);
    case 'float32_vector':
      return vector(spec.dim, v);
  }
}

/** A join key's value as the wire carries it: an int64 as a decimal string, a string as is. */
export function idFromText(key: JoinKey, text: string): string {
  if (key.type === 'string') return boundedId(text);
  const t = text.trim();
  if (!INT.test(t)) throw new BadField(`${shown(text)} is not an int64`);
  return int64Text(t);
}

export function idFromJson(key: JoinKey, v: unknown): string {
  if (key.type === 'string') {
    if (typeof v !== 'string') throw new BadField(`${shown(v)} is not a string`);
    return boundedId(v);
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new BadField(`${shown(v)} is not an exact int64 (give ids beyond 2^53 as strings)`);
    return String(v);
  }
  if (typeof v === 'string' && INT.test(v.trim())) return int64Text(v.trim());
  throw new BadField(`${shown(v)} is not an int64`);
}

function floatFromText(text: string): number {
  // The common case without a regex: Number() reads a text that starts with
  // a digit, '-' or '.' as the decimal it is, unless it is hex, binary or
  // octal ("0x1f", "0b1", "0o7"), which are refused below.
  const first = text.charCodeAt(0);
  const second = text.charCodeAt(1) | 32;
  if (
    ((first >= 48 && first <= 57) || first === 45 || first === 46) &&
    second !== 120 &&
    second !== 98 &&
    second !== 111
  ) {
    const n = +text;
    if (!Number.isNaN(n)) return n;
  }
  const t = text.trim();
  if (FLOAT.test(t)) return Number(t);
  const special = SPECIAL_FLOATS[t.toLowerCase()];
  if (special === undefined) throw new BadField(`${shown(text)} is not a number`);
  return special;
}

function jsonNumber(v: unknown): number {
  if (typeof v !== 'number') throw new BadField(`${shown(v)} is not a number`);
  return v;
}

function float32(n: number): number {
  const f = Math.fround(n);
  if (Number.isFinite(n) && !Number.isFinite(f)) throw new BadField(`${n} is outside the float32 range`);
  return f;
}

function intFromText(text: string): number {
  const t = text.trim();
  if (!INT.test(t)) throw new BadField(`${shown(text)} is not an integer`);
  return Number(t);
}

function int32(n: number): number {
  if (n < -(2 ** 31) || n >= 2 ** 31) throw new BadField(`${n} is outside the int32 range`);
  return n;
}

/** An int64 as PutFeatures stores it: a number where exact, else a bigint. */
function int64FromText(text: string): number | bigint {
  const t = text.trim();
  if (!INT.test(t)) throw new BadField(`${shown(text)} is not an integer`);
  if (t.length <= SAFE_DIGITS) return Number(t);
  const n = BigInt(t);
  if (n < INT64_MIN || n > INT64_MAX) throw new BadField(`${t} is outside the int64 range`);
  return Number.isSafeInteger(Number(n)) ? Number(n) : n;
}

function int64FromJson(v: unknown): number | bigint {
  if (typeof v === 'string') return int64FromText(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new BadField(`${shown(v)} is not an exact int64 (give values beyond 2^53 as strings)`);
  }
  return v;
}

function int64Text(t: string): string {
  if (CANONICAL_SAFE.test(t)) return t;
  const n = BigInt(t);
  if (n < INT64_MIN || n > INT64_MAX) throw new BadField(`${t} is outside the int64 range`);
  // "+7" and "007" name the same entity as "7": one spelling for every path.
  return n.toString();
}

function boundedId(text: string): string {
  if (text.length * 3 > MAX_ID_BYTES && Buffer.byteLength(text) > MAX_ID_BYTES) {
    throw new BadField(`${Buffer.byteLength(text)} bytes; an id is at most ${MAX_ID_BYTES}`);
  }
  return text;
}

function boundedString(text: string): string {
  if (text.length * 3 > MAX_VALUE_BYTES && Buffer.byteLength(text) > MAX_VALUE_BYTES) {
    throw new BadField(`longer than ${MAX_VALUE_BYTES} bytes`);
  }
  return text;
}

function base64(text: string): Buffer {
  const t = text.trim();
  if (!BASE64.test(t)) throw new BadField(`${shown(text)} is not base64`);
  const bytes = Buffer.from(t, 'base64');
  if (bytes.length > MAX_VALUE_BYTES) throw new BadField(`longer than ${MAX_VALUE_BYTES} bytes`);
  return bytes;
}

/** A vector cell: a JSON array, or numbers separated by spaces or semicolons. */
function vectorFromText(dim: number, text: string): Float32Array {
  const t = text.trim();
  if (t.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      throw new BadField(`${shown(text)} is not a JSON array`);
    }
    return vector(dim, parsed);
  }
  const parts = t.split(/[\s;]+/);
  if (parts.length !== dim) throw new BadField(`${parts.length} values; the vector's dim is ${dim}`);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = float32(floatFromText(parts[i] as string));
  return out;
}

function vector(dim: number, v: unknown): Float32Array {
  if (!Array.isArray(v)) throw new BadField(`${shown(v)} is not an array of numbers`);
  if (v.length !== dim) throw new BadField(`${v.length} values; the vector's dim is ${dim}`);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = float32(jsonNumber(v[i]));
  return out;
}
