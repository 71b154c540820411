import type { Model, ModelVersion } from '../model/registry.js';
import type { TensorSpec } from '../model/signature.js';

const info = (t: TensorSpec) => ({ name: t.name, dtype: t.dtype, dims: (t.dims ?? []).map(String) });

function versionInfo(v: ModelVersion) {
  if (v.state === 'failed') return { version: v.version, state: 2, error: v.error };
  return {
    version: v.version,
    state: 1,
    inputs: v.signature.inputs.map(info),
    outputs: v.signature.outputs.map(info),
    row_cacheable: v.signature.rowCacheable,
  };
}

export function listModelsHandler(models: () => ReadonlyMap<string, Model>) {
  return async (): Promise<unknown> => ({
    models: [...models().values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => ({
        name: m.name,
        current_version: m.current?.version ?? '',
        description: m.current?.metadata.description ?? '',
        labels: m.current?.metadata.labels ?? [],
        versions: m.versions.map(versionInfo),
      })),
  });
}
