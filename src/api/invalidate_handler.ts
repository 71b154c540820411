import type { Coherence } from '../coherence/coherence.js';
import { modelScope, versionScope, viewScope } from '../coherence/scopes.js';
import { invalidArgument, quote } from '../errors.js';
import type { EntityColumnWire } from '../features/entity_keys.js';
import { entityRows } from '../features/entity_keys.js';
import type { FeatureReader } from '../features/get_features.js';
import type { FeatureView } from '../features/view.js';
import type { RedisDoor } from '../redis/door.js';
import { LIMITS } from './limits.js';
import type { UnaryHandler } from './unary.js';
import { decodeBounded } from './wire/bounded_decode.js';

interface InvalidateWire {
  target: 'model' | 'view' | undefined;
  model: { model: string; version: string } | null;
  view: { view: string; entities: { columns: EntityColumnWire[] } | null } | null;
}

export interface InvalidateDeps {
  readonly coherence: Coherence;
  readonly door: RedisDoor;
  readonly reader: FeatureReader;
  readonly views: () => ReadonlyMap<string, FeatureView>;
  readonly maxEntityRows: number;
}

/**
 * Invalidate: a whole scope (a model, a model version, a view) moves to a
 * new generation, so its old keys are never asked for again; named entities'
 * rows are deleted. Either way every sidecar's L1 drops them once the change
 * reaches it over the bus. The call answers once Redis holds the change.
 */
export function invalidateHandler(deps: InvalidateDeps): UnaryHandler {
  return async (bytes) => {
    const req = decodeBounded<InvalidateWire>('infercache.v1.InvalidateRequest', bytes);
    if (req.target === 'model' && req.model !== null) {
      const { model, version } = req.model;
      name('model', model);
      if (version !== '') name('version', version);
      const scope = version === '' ? modelScope('p', model) : versionScope('p', model, version);
      return bump(deps, scope);
    }
    if (req.target === 'view' && req.view !== null) {
      const view = deps.views().get(req.view.view);
      if (view === undefined) throw invalidArgument(`view: unknown view ${quote(req.view.view)}`);
      const columns = req.view.entities?.columns ?? [];
      if (columns.length === 0) return bump(deps, viewScope(view.name));
      const keys = deps.reader.keys(view, entityRows(view.joinKeys, columns, deps.maxEntityRows));
      const deleted = await deps.door.deleteMany('invalidate', keys);
      await deps.coherence.announce({ t: 'keys', keys });
      return { scope: '', generation: 0, keys_deleted: deleted };
    }
    throw invalidArgument('target: give a model or a view');
  };
}

async function bump(deps: InvalidateDeps, scope: string) {
  const generation =
    deps.door.mode === 'none'
      ? deps.coherence.fleet.generation(scope) + 1
      : await deps.coherence.fleet.bump(scope);
  await deps.coherence.announce({ t: 'generation', scope, generation });
  return { scope, generation, keys_deleted: 0 };
}

/** Refuses an empty name (one past LIMITS.maxNameBytes was refused while decoding). */
function name(field: string, value: string): void {
  if (value === '') throw invalidArgument(`${field}: expected a name of 1 to ${LIMITS.maxNameBytes} bytes`);
}
