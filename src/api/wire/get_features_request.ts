import type { EntityColumnWire } from '../../features/entity_keys.js';
import { LIMITS } from '../limits.js';
import { readEntityKeys } from './entity_keys_reader.js';
import { ProtoReader, WIRE_LEN, WireError } from './proto_reader.js';

/** An infercache.v1.GetFeaturesRequest, decoded and bounded. */
export interface GetFeaturesCall {
  readonly features: string[];
  /** The entity key columns (empty when the field is absent). */
  readonly entities: EntityColumnWire[];
}

// "view:feature": two names and the colon.
const MAX_REF_BYTES = 2 * LIMITS.maxNameBytes + 1;

/**
 * Reads a GetFeaturesRequest from its wire bytes: the feature references,
 * each at most two names long, and the entity ids, int64 ones as numbers
 * where they fit in 32 bits. protobufjs made a Long of every int64 id and
 * then a decimal string of it (1,000 of each per call of 1,000 entities).
 * Every field counts against the request's element budget.
 */
export function decodeGetFeaturesRequest(bytes: Buffer): GetFeaturesCall {
  const r = new ProtoReader(bytes);
  const features: string[] = [];
  const entities: EntityColumnWire[] = [];
  while (!r.done) {
    const key = r.tag();
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        if (wire !== WIRE_LEN) throw new WireError(`features has wire type ${wire}`);
        features.push(r.string('a feature reference', MAX_REF_BYTES));
        break;
      case 2: {
        if (wire !== WIRE_LEN) throw new WireError(`entities has wire type ${wire}`);
        const start = r.span();
        const end = r.pos;
        readEntityKeys(r.sub(start, end), end, entities);
        break;
      }
      default:
        r.skip(wire);
    }
  }
  return { features, entities };
}
