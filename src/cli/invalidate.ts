import { loadConfig } from '../config/load.js';
import { entityColumns } from '../features/load_batch.js';
import { connect } from './client.js';
import { viewNamed } from './feature_store.js';
import { parseId } from './features_get.js';
import { countFlag } from './flags.js';

export interface InvalidateOptions {
  addr: string;
  timeoutMs: string;
  version?: string;
  featureViews?: string;
}

/**
 * `infercache invalidate model NAME [--version V]` and
 * `infercache invalidate view NAME [ID...]`: one Invalidate call, answered
 * once Redis holds the change; prints what moved on or how many rows went.
 */
export async function invalidateCommand(
  target: 'model' | 'view',
  name: string,
  ids: string[],
  o: InvalidateOptions,
): Promise<void> {
  const request =
    target === 'model'
      ? { model: { model: name, version: o.version ?? '' } }
      : { view: { view: name, entities: ids.length === 0 ? null : await entityKeys(name, ids, o) } };
  const client = connect(o.addr, countFlag('--timeout-ms', o.timeoutMs, 0));
  try {
    const reply = await client.call<{ scope: string; generation: string; keys_deleted: number }>(
      'Invalidate',
      request,
    );
    process.stdout.write(
      reply.scope === ''
        ? `deleted ${reply.keys_deleted} of ${ids.length} rows of view ${name}; every sidecar drops its copies\n`
        : `invalidated ${reply.scope}: generation ${reply.generation}; every sidecar drops its copies\n`,
    );
  } finally {
    client.close();
  }
}

/**
 * Entity ids as the view's join-key columns, from the views file the
 * sidecars read (INFERCACHE_FEATURE_VIEWS, or --feature-views); a composite
 * key is given as comma-separated values per id, in the view's key order,
 * as `features get` and `warm` read them.
 */
async function entityKeys(name: string, ids: string[], o: InvalidateOptions) {
  const config = loadConfig(o.featureViews === undefined ? {} : { featureViews: o.featureViews });
  const view = await viewNamed(config, name);
  return {
    columns: entityColumns(
      view,
      ids.map((id) => ({ ids: parseId(view, id), eventTime: 0, values: [] })),
    ),
  };
}
