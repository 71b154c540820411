import { invalidArgument, quote } from '../../errors.js';
import type { EntityColumnWire } from '../../features/entity_keys.js';
import type { HostTensor } from '../../tensor/host_tensor.js';
import { LIMITS } from '../limits.js';
import { readEntityKeys } from './entity_keys_reader.js';
import { ProtoReader, WIRE_LEN, WIRE_VARINT, WireError } from './proto_reader.js';
import { readTensor } from './tensor_reader.js';

export interface CacheControlWire {
  readonly bypass: boolean;
  readonly noStore: boolean;
  readonly maxAgeMs: number;
}

/** An infercache.v1.PredictRequest, decoded and bounded. */
export interface PredictCall {
  readonly model: string;
  readonly version: string;
  readonly inputs: Map<string, HostTensor>;
  readonly cache: CacheControlWire;
  readonly typedOutputs: boolean;
  /** Predict by entity: the entity key columns; undefined when the field is absent. */
  readonly entities: EntityColumnWire[] | undefined;
}

/** An infercache.v1.GetEmbeddingsRequest, decoded and bounded. */
export interface EmbeddingsCall extends Omit<PredictCall, 'typedOutputs'> {
  readonly normalize: boolean;
}

/**
 * Decodes a PredictRequest straight from its wire bytes (see proto_reader.ts
 * for why not protobufjs). Limits are checked as fields arrive: the 1025th
 * input is refused before its tensor is read.
 */
export function decodePredictRequest(bytes: Buffer): PredictCall {
  const r = decodeRowsRequest(bytes, 'typed_outputs');
  return {
    model: r.model,
    version: r.version,
    inputs: r.inputs,
    cache: r.cache,
    typedOutputs: r.flag,
    entities: r.entities,
  };
}

/** A GetEmbeddingsRequest: PredictRequest's fields, with `normalize` as field 5. */
export function decodeEmbeddingsRequest(bytes: Buffer): EmbeddingsCall {
  const { flag, ...rest } = decodeRowsRequest(bytes, 'normalize');
  return { ...rest, normalize: flag };
}

function decodeRowsRequest(
  bytes: Buffer,
  flagName: string,
): Omit<PredictCall, 'typedOutputs'> & { flag: boolean } {
  const r = new ProtoReader(bytes);
  let model = '';
  let version = '';
  const inputs = new Map<string, HostTensor>();
  let cache: CacheControlWire = { bypass: false, noStore: false, maxAgeMs: 0 };
  let flag = false;
  let entities: EntityColumnWire[] | undefined;
  let entries = 0;
  while (!r.done) {
    const key = r.tag();
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1:
        expect(wire, WIRE_LEN, 'model');
        model = r.string('model', LIMITS.maxNameBytes);
        break;
      case 2:
        expect(wire, WIRE_LEN, 'version');
        version = r.string('version', LIMITS.maxNameBytes);
        break;
      case 3: {
        expect(wire, WIRE_LEN, 'inputs');
        // Entries, not distinct names: a map entry may repeat a name (the
        // last one wins), and each is a whole tensor to read, 5-15x the cost
        // of the elements MAX_ELEMENTS is sized for. 200,000 entries of one
        // name (4.4 MB) held the event loop 70-100 ms before that limit
        // stopped them (bench: request_cost); refused after 1024, ~2 ms.
        if (++entries > LIMITS.maxInputs) throw invalidArgument(`more than ${LIMITS.maxInputs} inputs given`);
        const entry = readInputEntry(r);
        inputs.set(entry.name, entry.tensor());
        break;
      }
      case 4:
        expect(wire, WIRE_LEN, 'cache');
        cache = readCacheControl(r, cache);
        break;
      case 5:
        expect(wire, WIRE_VARINT, flagName);
        flag = r.bool();
        break;
      case 6: {
        expect(wire, WIRE_LEN, 'entities');
        const start = r.span();
        const end = r.pos;
        entities ??= [];
        readEntityKeys(r.sub(start, end), end, entities);
        break;
      }
      default:
        r.skip(wire);
    }
  }
  if (model === '') throw invalidArgument('model is required');
  if (entities !== undefined && inputs.size > 0) {
    throw invalidArgument('give either inputs or entities, not both');
  }
  return { model, version, inputs, cache, flag, entities };
}

function expect(wire: number, want: number, field: string): void {
  if (wire !== want) throw new WireError(`${field} has wire type ${wire}`);
}

/**
 * One map<string, Tensor> entry: key (1) and value (2), in any order. The
 * name comes first so the input count is checked before the tensor is read.
 */
function readInputEntry(r: ProtoReader): { name: string; tensor: () => HostTensor } {
  const start = r.span();
  const end = r.pos;
  const entry = r.sub(start, end);
  let name = '';
  let valueAt: [number, number] | undefined;
  while (!entry.done) {
    const key = entry.tag();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1 && wire === WIRE_LEN) name = entry.string('input name', LIMITS.maxInputNameBytes);
    else if (field === 2 && wire === WIRE_LEN) {
      const at = entry.span();
      valueAt = [at, entry.pos];
    } else entry.skip(wire);
  }
  const where = { toString: () => `input ${quote(name)}` };
  if (valueAt === undefined) throw invalidArgument(`${where}: no tensor given`);
  const [from, to] = valueAt;
  return { name, tensor: () => readTensor(r.sub(from, to), to, where) };
}

function readCacheControl(r: ProtoReader, previous: CacheControlWire): CacheControlWire {
  const start = r.span();
  const end = r.pos;
  const c = r.sub(start, end);
  // Proto merge semantics: a repeated message field merges into the last.
  let { bypass, noStore, maxAgeMs } = previous;
  while (!c.done) {
    const key = c.tag();
    const field = key >>> 3;
    const wire = key & 7;
    if (wire !== WIRE_VARINT) c.skip(wire);
    else if (field === 1) bypass = c.bool();
    else if (field === 2) noStore = c.bool();
    else if (field === 3) maxAgeMs = c.varint32();
    else c.skip(wire);
  }
  return { bypass, noStore, maxAgeMs };
}
