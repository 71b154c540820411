import { Packr } from 'msgpackr';
import { type CacheKind, ENTRY_OVERHEAD_BYTES, lifetimes } from '../cache/kind.js';
import { RejectedValue } from '../cache/value_frame.js';
import { type NameBytes, nameBytes, readRowMap } from './row_map_reader.js';
import { writeRowMap } from './row_map_writer.js';
import type { FeatureSpec, FeatureView } from './view.js';

/** One feature's value: number (float32/64, int32), bigint or number (int64), boolean, string, bytes, vector. */
export type FeatureValue = number | bigint | boolean | string | Uint8Array | Float32Array | null;

/**
 * One entity's row of a view: its event time, its values in the view's
 * feature order (null for a null value), and when it was written. A row
 * with `values` undefined is a remembered NOT_FOUND (kept in L1 only).
 */
export interface FeatureRow {
  readonly eventTime: number;
  readonly values: readonly FeatureValue[] | undefined;
  readonly writtenAt: number;
}

// Records off: every value decodes on its own, with no structure state shared
// between sidecars. int64AsType 'auto' (in msgpackr's code, not its types):
// a 64-bit integer comes back as a number where exact, else a bigint, so an
// integral float packed as an integer still reads as a number.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  int64AsType: 'auto' as unknown as 'bigint',
});

/**
 * Feature rows as a cache kind. Payload: the write time (float64 LE), then
 * msgpack of a map from feature name to value (vectors as little-endian
 * float32 bytes). By name, so a view that gains or drops a feature still
 * reads the rows written before (a new feature reads as null). A value of
 * the wrong type for the reader's view is refused ('schema').
 */
export function featureRowKind(view: FeatureView, l2Jitter: number): CacheKind<FeatureRow> {
  const names = nameBytes(view);
  const stored = lifetimes({ l1Ms: view.l1TtlMs, l2Ms: view.ttlMs, l2Jitter });
  return {
    id: 'f',
    timeOf: (row) => row.eventTime,
    writtenAt: (row) => row.writtenAt,
    encode: (row) => encodeRow(names, row),
    decode: (payload, time) => decodeRow(view, names, payload, time),
    sizeOf(row) {
      let bytes = ENTRY_OVERHEAD_BYTES;
      for (const v of row.values ?? []) bytes += valueBytes(v);
      return bytes;
    },
    ttl: (row) => (row.values === undefined ? { l1Ms: view.notFoundTtlMs, l2Ms: 0 } : stored.ttl()),
    // A row in L2 always has values: a remembered NOT_FOUND stays in L1.
    copyTtl: stored.copyTtl,
  };
}

function valueBytes(v: FeatureValue): number {
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return 16;
  if (typeof v === 'bigint') return 24;
  if (typeof v === 'string') return 40 + 2 * v.length;
  return 64 + v.byteLength;
}

function encodeRow(names: NameBytes, row: FeatureRow): Buffer {
  const out = writeRowMap(names, row.values ?? [], 8);
  out.writeDoubleLE(row.writtenAt, 0);
  return out;
}

function decodeRow(view: FeatureView, names: NameBytes, payload: Buffer, eventTime: number): FeatureRow {
  if (payload.length < 9) throw new RejectedValue('format', 'feature row too short');
  const writtenAt = payload.readDoubleLE(0);
  const raw: unknown[] = new Array(view.features.length).fill(null);
  if (readRowMap(view, names, payload, 8, raw)) {
    const values = raw as FeatureValue[];
    for (let i = 0; i < values.length; i++) values[i] = checkValue(view.features[i] as FeatureSpec, raw[i]);
    return { eventTime, values, writtenAt };
  }
  return decodeWithMsgpackr(view, payload, eventTime, writtenAt);
}

/** The row by msgpackr: what readRowMap does not take, and the error for a malformed row. */
function decodeWithMsgpackr(
  view: FeatureView,
  payload: Buffer,
  eventTime: number,
  writtenAt: number,
): FeatureRow {
  let map: unknown;
  try {
    map = packr.unpack(payload.subarray(8));
  } catch {
    throw new RejectedValue('format', 'feature row is not msgpack');
  }
  // A plain map only: msgpack extensions decode to objects too (a Date, or
  // msgpackr's C1Type for the reserved byte 0xc1), which would read as a row
  // of nulls.
  const proto = typeof map === 'object' && map !== null ? Object.getPrototypeOf(map) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new RejectedValue('format', 'feature row is not a map');
  }
  const values: FeatureValue[] = new Array(view.features.length).fill(null);
  const fields = map as Record<string, unknown>;
  // for...in, not Object.entries: no [name, value] pair per feature (this runs per row read from L2).
  for (const name in fields) {
    const i = view.index.get(name);
    // A feature the view no longer has is ignored; one it gained reads as null.
    if (i === undefined) continue;
    values[i] = checkValue(view.features[i] as FeatureSpec, fields[name]);
  }
  return { eventTime, values, writtenAt };
}

/** `raw` as a value of `spec`'s type, or RejectedValue('schema'). */
export function checkValue(spec: FeatureSpec, raw: unknown): FeatureValue {
  if (raw === null || raw === undefined) return null;
  // Not a closure over spec: this runs per value read from L2, and would allocate one each time.
  const wrong = notOfType;
  switch (spec.type) {
    case 'float32':
    case 'float64':
      if (typeof raw !== 'number') throw wrong(spec);
      return raw;
    case 'int32':
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < -(2 ** 31) || raw >= 2 ** 31)
        throw wrong(spec);
      return raw;
    case 'int64':
      if (typeof raw === 'bigint') {
        if (BigInt.asIntN(64, raw) !== raw) throw wrong(spec);
        return raw;
      }
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw wrong(spec);
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') throw wrong(spec);
      return raw;
    case 'string':
      if (typeof raw !== 'string') throw wrong(spec);
      return raw;
    case 'bytes':
      if (!(raw instanceof Uint8Array)) throw wrong(spec);
      // A copy: a value read from L2 is a view of the Redis reply's socket
      // chunk, which L1 would keep alive whole while counting only these bytes.
      return Uint8Array.prototype.slice.call(raw);
    case 'float32_vector': {
      if (!(raw instanceof Uint8Array) || raw.byteLength !== spec.dim * 4) throw wrong(spec);
      // A copy: aligned for the Float32Array view, and not pinning the Redis reply.
      const copy = new Uint8Array(raw);
      return new Float32Array(copy.buffer, 0, spec.dim);
    }
  }
}

function notOfType(spec: FeatureSpec): RejectedValue {
  return new RejectedValue('schema', `feature "${spec.name}" holds a value that is not ${spec.type}`);
}
