import { Packr } from 'msgpackr';

/**
 * What a caller of raw ioredis gets from rows of the feature frame format
 * (README "Keys and values"): one column per feature in the asked order,
 * one event time and one freshness flag per entity row.
 */
export interface RawColumns {
  readonly columns: Float64Array[];
  readonly eventTimes: Float64Array;
  /** 0 not found, 1 fresh, 2 past max_age. */
  readonly statuses: Uint8Array;
  readonly found: number;
}

// The options the sidecar reads rows with (feature_row.ts), so the same bytes give the same values.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  int64AsType: 'auto' as unknown as 'bigint',
});

const HEADER = 16;
const CHECK = 8;
const WRITTEN_AT = 8;

/**
 * The leanest decoding of the frame format a raw client could get away
 * with: the header's magic, kind and length, the event time, then the
 * msgpack map after the write time, picked into columns by name. No
 * checksum and no type checks: what a service that owns the keys and trusts
 * its writers would do, so the baseline is as fast as a raw read can be.
 */
export function decodeRawRows(
  values: readonly (Buffer | null)[],
  names: readonly string[],
  maxAgeMs: number,
  now: number,
): RawColumns {
  const n = values.length;
  const columns = names.map(() => new Float64Array(n));
  const eventTimes = new Float64Array(n);
  const statuses = new Uint8Array(n);
  let found = 0;
  for (let i = 0; i < n; i++) {
    const bytes = values[i];
    if (bytes == null) continue;
    if (bytes[0] !== 0x49 || bytes[1] !== 0x43 || bytes[3] !== 0x66)
      throw new Error(`row ${i}: not a feature frame`);
    const end = HEADER + bytes.readUInt32LE(4);
    if (end + CHECK !== bytes.length) throw new Error(`row ${i}: frame length does not match`);
    const eventTime = bytes.readDoubleBE(8);
    const map = packr.unpack(bytes.subarray(HEADER + WRITTEN_AT, end)) as Record<string, number | null>;
    for (let f = 0; f < names.length; f++) {
      (columns[f] as Float64Array)[i] = map[names[f] as string] ?? Number.NaN;
    }
    eventTimes[i] = eventTime;
    statuses[i] = now - eventTime > maxAgeMs ? 2 : 1;
    found++;
  }
  return { columns, eventTimes, statuses, found };
}
