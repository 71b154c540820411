import type { Coherence } from '../coherence/coherence.js';
import { InferCacheError, modelNotFound, quote } from '../errors.js';
import type { ModelRegistry } from '../model/model_registry.js';
import type { RedisDoor } from '../redis/door.js';
import type { UnaryHandler } from './unary.js';
import { decodeBounded } from './wire/bounded_decode.js';

/**
 * ActivateModel: the fleet's current version of a model, kept in Redis and
 * announced; every sidecar that has the version ready switches to it, the
 * others keep their own and report the mismatch. This sidecar must be able
 * to serve it (loading it again if it was unloaded) before it is chosen.
 */
export function activateModelHandler(deps: {
  registry: ModelRegistry;
  coherence: Coherence;
  door: RedisDoor;
}): UnaryHandler {
  return async (bytes) => {
    // Names past LIMITS.maxNameBytes are refused while decoding.
    const { model: name, version } = decodeBounded<{ model: string; version: string }>(
      'infercache.v1.ActivateModelRequest',
      bytes,
    );
    const model = deps.registry.models().get(name);
    if (model === undefined) throw modelNotFound(`unknown model ${quote(name)}`);
    if (version !== '') {
      const found = model.versions.find((v) => v.version === version);
      if (found === undefined) throw modelNotFound(`model ${quote(name)} has no version ${quote(version)}`);
      if (found.state === 'failed') {
        throw new InferCacheError(
          'E_MODEL_NOT_READY',
          `model ${quote(name)} version ${quote(version)} failed to load: ${found.error.slice(0, 200)}`,
        );
      }
    }
    if (deps.door.mode === 'none') deps.coherence.fleet.setVersion(name, version);
    else await deps.coherence.fleet.chooseVersion(name, version);
    await deps.coherence.announce({ t: 'version', model: name, version });
    await deps.registry.refresh(name);
    const after = deps.registry.models().get(name);
    if (version !== '' && after?.current?.version !== version) {
      throw new InferCacheError(
        'E_MODEL_NOT_READY',
        `model ${quote(name)} version ${quote(version)} was chosen for the fleet but could not be loaded here; this sidecar serves ${after?.current?.version ?? 'none'}`,
      );
    }
    return { model: name, current_version: after?.current?.version ?? '' };
  };
}
