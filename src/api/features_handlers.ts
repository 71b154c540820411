import type { EntityColumnWire } from '../features/entity_keys.js';
import type { FeatureValuesWire } from '../features/feature_columns.js';
import type { FeatureReader } from '../features/get_features.js';
import type { FeatureWriter } from '../features/put_features.js';
import { nowOrLater, type UnaryHandler } from './unary.js';
import { decodeBounded } from './wire/bounded_decode.js';
import { encodeGetFeaturesResponse } from './wire/features_response.js';
import { decodeGetFeaturesRequest } from './wire/get_features_request.js';

interface EntityKeysWire {
  readonly columns: readonly EntityColumnWire[];
}

/**
 * GetFeatures. A call L1 answers in full is answered synchronously (`now`),
 * as Predict's are; every other goes the asynchronous way.
 */
export function getFeaturesHandler(reader: FeatureReader): UnaryHandler {
  return nowOrLater(
    decodeGetFeaturesRequest,
    (req) => {
      const result = reader.getNow(req.features, req.entities);
      return result === undefined ? undefined : encodeGetFeaturesResponse(result);
    },
    async (req, ctx) => encodeGetFeaturesResponse(await reader.get(req.features, req.entities, ctx.signal)),
  );
}

export function putFeaturesHandler(writer: FeatureWriter): UnaryHandler {
  return async (bytes, ctx) => {
    const req = decodeBounded<{
      view: string;
      entities: EntityKeysWire | null;
      features: FeatureValuesWire[];
      event_time_ms: string[];
    }>('infercache.v1.PutFeaturesRequest', bytes);
    const result = await writer.put(
      {
        view: req.view,
        entities: req.entities?.columns ?? [],
        features: req.features,
        eventTimes: req.event_time_ms,
      },
      ctx.signal,
    );
    return { written: result.written, skipped_older: result.skippedOlder, applied: result.applied };
  };
}
