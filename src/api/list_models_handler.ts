import type { EmbeddingService } from '../embeddings/service.js';
import type { Model, ModelVersion, ReadyVersion } from '../model/registry.js';
import type { TensorSpec } from '../model/signature.js';
import type { EntityPlans } from '../predict/entity_plan.js';
import { DType } from '../tensor/dtypes.js';
import type { UnaryHandler } from './unary.js';
import { decodeEmptyRequest } from './wire/empty_request.js';

const info = (t: TensorSpec) => ({ name: t.name, dtype: t.dtype, dims: (t.dims ?? []).map(String) });

/** Whether a ready version is auto-bypassed now (PredictService.autoBypassed). */
type Bypassed = (v: ReadyVersion) => boolean;

function versionInfo(v: ModelVersion, plans: EntityPlans, embeddings: EmbeddingService, bypassed: Bypassed) {
  if (v.state === 'failed') return { version: v.version, state: 2, error: v.error };
  if (v.state === 'unloaded') return { version: v.version, state: 3 };
  const target = embeddings.targetOf(v);
  return {
    version: v.version,
    state: 1,
    inputs: v.signature.inputs.map(info),
    outputs: v.signature.outputs.map(info),
    row_cacheable: v.signature.rowCacheable,
    entity_keys: plans.of(v)?.joinKeys.map((k) => ({ name: k.name, type: k.type })) ?? [],
    entity_error: plans.problem(v) ?? '',
    embedding:
      typeof target === 'string'
        ? null
        : {
            output: target.outputName,
            dim: target.dim,
            stored_dtype: target.storeAs === 'float16' ? DType.FLOAT16 : DType.FLOAT32,
          },
    auto_bypassed: bypassed(v),
  };
}

/** ListModels takes an empty request: its bytes are only checked to be a message. */
export function listModelsHandler(
  models: () => ReadonlyMap<string, Model>,
  plans: EntityPlans,
  embeddings: EmbeddingService,
  bypassed: Bypassed,
): UnaryHandler {
  return async (bytes) => {
    decodeEmptyRequest(bytes);
    return {
      models: [...models().values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((m) => ({
          name: m.name,
          current_version: m.current?.version ?? '',
          description: m.current?.metadata.description ?? '',
          labels: m.current?.metadata.labels ?? [],
          versions: m.versions.map((v) => versionInfo(v, plans, embeddings, bypassed)),
          mismatch: m.mismatch ?? '',
        })),
    };
  };
}
