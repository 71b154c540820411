import { InferCacheError, modelNotFound } from '../errors.js';
import type { Model, ReadyVersion } from '../model/registry.js';

/** Resolves a (model, version) request to a loaded version, or says why not. */
export function resolveVersion(
  models: ReadonlyMap<string, Model>,
  name: string,
  version: string,
): ReadyVersion {
  const model = models.get(name);
  if (model === undefined) {
    const known = [...models.keys()].sort().join(', ') || 'none';
    throw modelNotFound(`unknown model "${name}" (loaded: ${known})`);
  }
  if (version === '') {
    if (model.current === undefined) {
      throw new InferCacheError('E_MODEL_NOT_READY', `model "${name}" has no version that loaded`);
    }
    return model.current;
  }
  const found = model.versions.find((v) => v.version === version);
  if (found === undefined) {
    const known = model.versions.map((v) => v.version).join(', ');
    throw modelNotFound(`model "${name}" has no version "${version}" (versions: ${known})`);
  }
  if (found.state === 'failed') {
    throw new InferCacheError(
      'E_MODEL_NOT_READY',
      `model "${name}" version "${version}" failed to load: ${found.error}`,
    );
  }
  return found;
}
