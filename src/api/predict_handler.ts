import type {
  EntityPredictResult,
  EntityPredictService,
  EntityRowSource,
  RowStatus,
} from '../predict/entity_service.js';
import type { PredictResult, PredictService } from '../predict/service.js';
import { toWire } from './output_tensor.js';
import { nowOrLater, type UnaryHandler } from './unary.js';
import { decodePredictRequest } from './wire/predict_request.js';
import { encodePredictResponse } from './wire/predict_response.js';

// infercache.v1.RowSource and RowStatus numbers.
const SOURCE_CODE: Record<EntityRowSource, number> = { l1: 1, l2: 2, model: 3, none: 4 };
const STATUS_CODE: Record<RowStatus, number> = { ok: 1, entity_not_found: 2, feature_missing: 3 };

/**
 * Predict: wire bytes to the service call and back; shapes are checked in
 * model/validate.ts. A request with `entities` goes to Predict by entity.
 * A request L1 answers in full is answered synchronously (`now`); every
 * other goes through the asynchronous path, which reuses its decoding.
 */
export function predictHandler(service: PredictService, byEntity: EntityPredictService): UnaryHandler {
  return nowOrLater(
    decodePredictRequest,
    (req) => {
      const result = req.entities === undefined && !req.typedOutputs ? service.predictNow(req) : undefined;
      return result === undefined ? undefined : (respond(result, false) as Buffer);
    },
    async (req, ctx) => {
      const common = {
        model: req.model,
        version: req.version,
        cache: req.cache,
        deadline: ctx.deadline,
        signal: ctx.signal,
      };
      const result =
        req.entities === undefined
          ? await service.predict({ ...common, inputs: req.inputs })
          : await byEntity.predict({ ...common, entities: req.entities });
      return respond(result, req.typedOutputs);
    },
  );
}

function respond(result: PredictResult | EntityPredictResult, typedOutputs: boolean): unknown {
  const rowSources = new Array<number>(result.rowSources.length);
  for (let i = 0; i < rowSources.length; i++)
    rowSources[i] = SOURCE_CODE[result.rowSources[i] as EntityRowSource];
  const rowStatuses = 'rowStatuses' in result ? result.rowStatuses.map((s) => STATUS_CODE[s]) : [];
  if (!typedOutputs) {
    return encodePredictResponse({
      model: result.model,
      version: result.version,
      outputs: result.outputs,
      rowSources,
      rowCached: result.rowCached,
      rowStatuses,
    });
  }
  // Typed outputs (a hand-written call's convenience) go through protobufjs.
  const outputs: Record<string, unknown> = {};
  for (const o of result.outputs) outputs[o.name] = toWire(o, true);
  return {
    model: result.model,
    version: result.version,
    outputs,
    row_sources: rowSources,
    row_cached: result.rowCached,
    row_statuses: rowStatuses,
  };
}
