import { InferCacheError, modelNotFound, quote } from '../errors.js';
import type { Model, ReadyVersion } from '../model/registry.js';

/** Resolves a (model, version) request to a loaded version, or says why not. */
export function resolveVersion(
  models: ReadonlyMap<string, Model>,
  name: string,
  version: string,
): ReadyVersion {
  const model = models.get(name);
  if (model === undefined) {
    throw modelNotFound(`unknown model ${quote(name)} (loaded: ${listed([...models.keys()].sort())})`);
  }
  if (version === '') {
    if (model.current === undefined) {
      throw new InferCacheError('E_MODEL_NOT_READY', `model ${quote(name)} has no version that loaded`);
    }
    return model.current;
  }
  const found = model.versions.find((v) => v.version === version);
  if (found === undefined) {
    const known = listed(model.versions.map((v) => v.version));
    throw modelNotFound(`model ${quote(name)} has no version ${quote(version)} (versions: ${known})`);
  }
  if (found.state === 'unloaded') {
    throw new InferCacheError(
      'E_MODEL_NOT_READY',
      `model ${quote(name)} version ${quote(version)} is not loaded (INFERCACHE_MODEL_VERSIONS_LOADED); activate it to load it`,
    );
  }
  if (found.state === 'failed') {
    throw new InferCacheError(
      'E_MODEL_NOT_READY',
      `model ${quote(name)} version ${quote(version)} failed to load: ${found.error.slice(0, 200)}`,
    );
  }
  return found;
}

/** A few names for a message; the rest counted, not listed. */
function listed(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, 8).join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}
