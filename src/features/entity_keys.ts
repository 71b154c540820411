import { invalidArgument, limitExceeded, quote } from '../errors.js';
import type { JoinKey } from './view.js';

/** EntityKeys as the request decoder hands them over (int64 values as decimal strings). */
export interface EntityColumnWire {
  readonly name: string;
  readonly string_values: readonly string[];
  readonly int64_values: readonly (string | number)[];
}

/** The entity rows of a request: how many, and each row's canonical key bytes. */
export interface EntityRows {
  readonly count: number;
  /**
   * Canonical bytes of row i: what its key hashes. Made when first read: a
   * lookup whose rows' hashes are remembered by id (`id`) needs none.
   */
  readonly bytes: readonly Buffer[];
  /**
   * The type of the one join key when there is one, else undefined: then
   * `id(i)` stands for row i's bytes, one id for one row of bytes.
   */
  readonly idType: JoinKey['type'] | undefined;
  /**
   * Row i's id when there is one join key, else undefined: a string as it
   * is, an int64 as a number where a double holds it (else as given).
   * Two requests giving equal ids of one type have equal bytes, so a memo
   * of each row's hash may be keyed by the id, in a context of its type.
   */
  id(i: number): string | number | undefined;
  /** Row i's join key values, for messages and origins. */
  values(i: number): (string | bigint)[];
}

// An entity id longer than this is refused: ids are keys, not payloads.
export const MAX_ID_BYTES = 256;
const STRING_TAG = 1;
const INT64_TAG = 2;

/**
 * Checks the request's entity columns against the join keys (names, types,
 * equal lengths, the row limit) and builds each row's canonical bytes: per
 * join key in the view's order, a type tag, then u32 length + UTF-8 for a
 * string or 8 bytes little-endian for an int64. Every sidecar and the CLI
 * build them alike, so they agree on keys.
 */
export function entityRows(
  joinKeys: readonly JoinKey[],
  columns: readonly EntityColumnWire[],
  maxRows: number,
): EntityRows {
  const names = joinKeys.map((k) => k.name).join(', ');
  if (columns.length !== joinKeys.length) {
    throw invalidArgument(`entities: ${columns.length} key columns given; the join keys are ${names}`);
  }
  const ordered = joinKeys.map((key) => {
    const column = columns.find((c) => c.name === key.name);
    if (column === undefined)
      throw invalidArgument(`entities: no column for join key "${key.name}" (join keys: ${names})`);
    const values = key.type === 'string' ? column.string_values : column.int64_values;
    const other = key.type === 'string' ? column.int64_values : column.string_values;
    if (other.length > 0) {
      throw invalidArgument(`entities: join key "${key.name}" is ${key.type}; give it in ${key.type}_values`);
    }
    return { key, values };
  });
  const count = ordered[0]?.values.length ?? 0;
  if (count > maxRows) {
    throw limitExceeded(`${count} entity rows given; the limit is ${maxRows} (INFERCACHE_MAX_ENTITY_ROWS)`);
  }
  for (const { key, values } of ordered) {
    if (values.length !== count) {
      throw invalidArgument(`entities: column "${key.name}" has ${values.length} values, expected ${count}`);
    }
  }
  // Every id is checked now, so the bytes made later cannot fail.
  for (const { key, values } of ordered) {
    for (let i = 0; i < count; i++) checkId(key, values[i] as string | number, i);
  }
  let bytes: Buffer[] | undefined;
  const single = ordered.length === 1 ? (ordered[0] as (typeof ordered)[number]) : undefined;
  return {
    count,
    get bytes() {
      if (bytes === undefined) {
        bytes = new Array(count);
        for (let i = 0; i < count; i++) {
          const parts: Buffer[] = [];
          for (const { key, values } of ordered) parts.push(encodeId(key, values[i] as string | number, i));
          bytes[i] = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
        }
      }
      return bytes;
    },
    idType: single?.key.type,
    id:
      single === undefined
        ? () => undefined
        : single.key.type === 'string'
          ? (i) => single.values[i]
          : (i) => {
              // One id for one int64 however it was written (5, "5", "05"), where a double holds it.
              const v = single.values[i] as string | number;
              return safeInteger(v) ?? v;
            },
    values: (i) =>
      ordered.map(({ key, values }) =>
        key.type === 'string' ? String(values[i]) : BigInt(values[i] as string),
      ),
  };
}

// Ids that need no look beyond this: an optional "-" and digits (BigInt takes
// them all, and asIntN wraps them), or a string whose UTF-8 cannot pass the limit.
const DIGITS = /^-?\d+$/;
const SHORT_ID_CHARS = Math.floor(MAX_ID_BYTES / 3);

/** Throws INVALID_ARGUMENT for an id encodeId cannot encode, as encodeId would, without encoding the others. */
function checkId(key: JoinKey, value: string | number, row: number): void {
  if (key.type === 'int64') {
    if (safeInteger(value) === undefined && !(typeof value === 'string' && DIGITS.test(value))) {
      encodeId(key, value, row);
    }
  } else if ((value as string).length > SHORT_ID_CHARS && Buffer.byteLength(value as string) > MAX_ID_BYTES) {
    encodeId(key, value, row);
  }
}

function encodeId(key: JoinKey, value: string | number, row: number): Buffer {
  if (key.type === 'int64') {
    // Most ids fit a double exactly: written from the number, without a
    // BigInt per id (a 1,000-entity lookup made 1,000 of them).
    const small = safeInteger(value);
    if (small !== undefined) {
      const out = Buffer.allocUnsafe(9);
      out[0] = INT64_TAG;
      out.writeUInt32LE(small >>> 0, 1);
      out.writeInt32LE(Math.floor(small / 2 ** 32) | 0, 5);
      return out;
    }
    let n: bigint;
    try {
      n = BigInt(value);
    } catch {
      throw invalidArgument(`entities: row ${row}, "${key.name}": ${quote(String(value))} is not an int64`);
    }
    const out = Buffer.allocUnsafe(9);
    out[0] = INT64_TAG;
    out.writeBigInt64LE(BigInt.asIntN(64, n), 1);
    return out;
  }
  const text = value as string;
  const length = Buffer.byteLength(text);
  if (length > MAX_ID_BYTES) {
    throw invalidArgument(`entities: row ${row}, "${key.name}" is ${length} bytes; at most ${MAX_ID_BYTES}`);
  }
  const out = Buffer.allocUnsafe(5 + length);
  out[0] = STRING_TAG;
  out.writeUInt32LE(length, 1);
  out.write(text, 5, 'utf8');
  return out;
}

/**
 * `value` as a number when it is an integer a double holds exactly: a safe
 * integer, or a string of an optional "-" and at most 15 digits. Anything
 * else (more digits, a sign "+", spaces, an empty string) is left to BigInt,
 * which decides what it means, so both ways agree on every id.
 */
function safeInteger(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  const start = value.charCodeAt(0) === 45 ? 1 : 0; // '-'
  const digits = value.length - start;
  if (digits < 1 || digits > 15) return undefined;
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(value);
}
