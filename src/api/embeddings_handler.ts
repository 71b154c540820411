import type { EntityEmbeddingService } from '../embeddings/entity_embeddings.js';
import type { EmbeddingService } from '../embeddings/service.js';
import type { EntityRowSource, RowStatus } from '../predict/entity_service.js';
import { DType } from '../tensor/dtypes.js';
import type { UnaryHandler } from './unary.js';
import { decodeEmbeddingsRequest } from './wire/predict_request.js';
import { ProtoWriter } from './wire/proto_writer.js';

// infercache.v1.RowSource and RowStatus numbers.
const SOURCE_CODE: Record<EntityRowSource, number> = { l1: 1, l2: 2, model: 3, none: 4 };
const STATUS_CODE: Record<RowStatus, number> = { ok: 1, entity_not_found: 2, feature_missing: 3 };

/**
 * GetEmbeddings: wire bytes to the service and back. The response is
 * encoded here (its vectors are one packed field: one copy, not one
 * protobufjs write per component) and leaves as bytes.
 */
export function getEmbeddingsHandler(
  service: EmbeddingService,
  byEntity: EntityEmbeddingService,
): UnaryHandler {
  return async (bytes, ctx) => {
    const req = decodeEmbeddingsRequest(bytes);
    const common = {
      model: req.model,
      version: req.version,
      normalize: req.normalize,
      cache: req.cache,
      deadline: ctx.deadline,
      signal: ctx.signal,
    };
    const result =
      req.entities === undefined
        ? await service.embed({ ...common, inputs: req.inputs })
        : await byEntity.embed({ ...common, entities: req.entities });
    return new ProtoWriter(64 + result.vectors.byteLength + 2 * result.rowSources.length)
      .string(1, result.model)
      .string(2, result.version)
      .uint(3, result.dim)
      .floats(4, result.vectors)
      .packed(
        5,
        result.rowSources.map((s) => SOURCE_CODE[s]),
      )
      .packed(6, 'rowStatuses' in result ? result.rowStatuses.map((s) => STATUS_CODE[s]) : [])
      .bool(7, result.normalized)
      .uint(8, result.storedAs === 'float16' ? DType.FLOAT16 : DType.FLOAT32)
      .finish();
  };
}
