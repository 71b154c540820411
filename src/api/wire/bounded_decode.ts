import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { MAX_ID_BYTES } from '../../features/entity_keys.js';
import { LIMITS } from '../limits.js';
import { ProtoReader, WIRE_LEN, WIRE_VARINT, WireError } from './proto_reader.js';

const protoRoot = fileURLToPath(new URL('../../../proto', import.meta.url));

// The same shapes as api/proto.ts's loader options: snake_case names, int64
// as decimal strings, enums as numbers, every field present.
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
  oneofs: true,
};

let root: protobuf.Root | undefined;

function loadRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => `${protoRoot}/${target}`;
    r.loadSync('infercache/v1/infercache.proto', { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

const VARINT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool', 'enum']);

// The longest value a string field may hold, by the field's full name.
// Every other string field of the requests decoded here is a name (a model,
// version, view, feature or join key), at most LIMITS.maxNameBytes.
const STRING_LIMITS: ReadonlyMap<string, number> = new Map([
  ['.infercache.v1.EntityKeyColumn.string_values', MAX_ID_BYTES],
]);
const stringLimits = new Map<protobuf.FieldBase, number>();

function stringLimit(field: protobuf.FieldBase): number {
  let limit = stringLimits.get(field);
  if (limit === undefined) {
    limit = STRING_LIMITS.get(field.fullName) ?? LIMITS.maxNameBytes;
    stringLimits.set(field, limit);
  }
  return limit;
}

/**
 * Decodes a request message of any of our types, refusing before decoding
 * one that holds more fields and values than the element budget
 * (proto_reader.ts) allows: protobufjs decodes into an object per element,
 * which is what let 32 MiB of tiny fields freeze the process for 40 s. The
 * walk is by the message's schema, so sub-messages and packed varints are
 * counted too; it costs a few nanoseconds per element. Every string field is
 * held to its limit (and to valid UTF-8) on the way, as the requests we
 * decode by hand are: a 1 MiB view name is refused here, not decoded and
 * then carried into lookups and error messages.
 */
export function decodeBounded<T>(typeName: string, bytes: Buffer): T {
  const type = loadRoot().lookupType(typeName);
  const r = new ProtoReader(bytes);
  walk(type, r, bytes.length, '');
  return type.toObject(type.decode(bytes), TO_OBJECT) as T;
}

/** Walks the fields of one message; `path` names it for messages ("entities.columns."). */
function walk(type: protobuf.Type, r: ProtoReader, end: number, path: string): void {
  const first = r.pos;
  while (r.pos < end) {
    const at = r.pos;
    const key = r.tag();
    const wire = key & 7;
    const field = type.fieldsById[key >>> 3];
    if (field === undefined || wire !== WIRE_LEN) {
      r.skip(wire);
      continue;
    }
    if (field.type === 'string') {
      const problem = r.skipString(stringLimit(field));
      if (problem !== undefined) {
        // A repeated field says which of its values (the row of an entity id).
        const which = field.repeated ? `[${occurrence(r.buf, first, at, key >>> 3)}]` : '';
        throw new WireError(`${path}${field.name}${which} ${problem}`);
      }
      continue;
    }
    const start = r.span();
    const stop = r.pos;
    if (field instanceof protobuf.MapField) {
      walkMapEntry(field, r.sub(start, stop), stop, `${path}${field.name}`);
    } else if (field.resolvedType instanceof protobuf.Type) {
      walk(field.resolvedType, r.sub(start, stop), stop, `${path}${field.name}.`);
    } else if (
      field.repeated &&
      (VARINT_TYPES.has(field.type) || field.resolvedType instanceof protobuf.Enum)
    ) {
      const values = r.sub(start, stop);
      while (values.pos < stop) {
        values.element();
        values.varint32();
      }
    }
  }
}

function walkMapEntry(field: protobuf.MapField, r: ProtoReader, end: number, path: string): void {
  while (r.pos < end) {
    const key = r.tag();
    const wire = key & 7;
    const number = key >>> 3;
    if (number === 1 && wire === WIRE_LEN && field.keyType === 'string') {
      const problem = r.skipString(stringLimit(field));
      if (problem !== undefined) throw new WireError(`a key of ${path} ${problem}`);
    } else if (number === 2 && wire === WIRE_LEN && field.resolvedType instanceof protobuf.Type) {
      const start = r.span();
      walk(field.resolvedType, r.sub(start, r.pos), r.pos, `${path}.`);
    } else if (number === 2 && wire === WIRE_LEN && field.type === 'string') {
      const problem = r.skipString(stringLimit(field));
      if (problem !== undefined) throw new WireError(`a value of ${path} ${problem}`);
    } else if (wire === WIRE_VARINT) r.varint32();
    else r.skip(wire);
  }
}

/** How many times field `id` occurs in the message's bytes [start, at): the index of the one at `at`. */
function occurrence(buf: Buffer, start: number, at: number, id: number): number {
  const r = new ProtoReader(buf, start, at);
  let count = 0;
  while (!r.done) {
    const key = r.tag();
    if (key >>> 3 === id) count++;
    r.skip(key & 7);
  }
  return count;
}
