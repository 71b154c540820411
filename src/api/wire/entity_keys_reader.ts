import { invalidArgument } from '../../errors.js';
import { type EntityColumnWire, MAX_ID_BYTES } from '../../features/entity_keys.js';
import { LIMITS } from '../limits.js';
import { type ProtoReader, WIRE_LEN, WIRE_VARINT, WireError } from './proto_reader.js';

interface Column {
  name: string;
  string_values: string[];
  int64_values: (string | number)[];
}

/**
 * Reads one infercache.v1.EntityKeys message (the field's bytes start at
 * r.pos after `span()`; pass where they end) and appends its columns to
 * `into`, as protobuf merges a message field given twice. Every id is an
 * element of the request's budget; a string id longer than MAX_ID_BYTES
 * and a column past LIMITS.maxEntityColumns are refused as they arrive.
 */
export function readEntityKeys(r: ProtoReader, end: number, into: EntityColumnWire[]): void {
  while (r.pos < end) {
    const key = r.tag();
    const wire = key & 7;
    if (key >>> 3 !== 1) {
      r.skip(wire);
      continue;
    }
    if (wire !== WIRE_LEN) throw new WireError(`entities.columns has wire type ${wire}`);
    if (into.length >= LIMITS.maxEntityColumns) {
      throw invalidArgument(`entities: more than ${LIMITS.maxEntityColumns} key columns given`);
    }
    const start = r.span();
    const stop = r.pos;
    into.push(readColumn(r.sub(start, stop), stop));
  }
}

function readColumn(c: ProtoReader, end: number): Column {
  const column: Column = { name: '', string_values: [], int64_values: [] };
  const half = { lo: 0, hi: 0 };
  while (c.pos < end) {
    const key = c.tag();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1) {
      expect(wire, WIRE_LEN, 'entity key column name');
      column.name = c.string('entity key column name', LIMITS.maxNameBytes);
    } else if (field === 2) {
      expect(wire, WIRE_LEN, 'string_values');
      column.string_values.push(c.string('an entity id', MAX_ID_BYTES));
    } else if (field === 3) {
      if (wire === WIRE_VARINT) {
        c.varint64(half);
        column.int64_values.push(int64Of(half));
        continue;
      }
      expect(wire, WIRE_LEN, 'int64_values');
      // Packed: each value is an element of its own.
      const start = c.span();
      const stop = c.pos;
      const values = c.sub(start, stop);
      while (values.pos < stop) {
        values.element();
        values.varint64(half);
        column.int64_values.push(int64Of(half));
      }
    } else c.skip(wire);
  }
  return column;
}

/** A varint's 64 bits as an int64: a number when it is below 2^32, else exact decimal text. */
function int64Of(half: { lo: number; hi: number }): string | number {
  if (half.hi === 0) return half.lo;
  return BigInt.asIntN(64, (BigInt(half.hi) << 32n) | BigInt(half.lo)).toString();
}

function expect(wire: number, want: number, field: string): void {
  if (wire !== want) throw new WireError(`${field} has wire type ${wire}`);
}
