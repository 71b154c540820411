import { loadConfig } from '../config/load.js';
import { loadFeatureViews } from '../features/views_file.js';
import { connect } from './client.js';

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
      : { view: { view: name, entities: ids.length === 0 ? null : await entityColumns(name, ids, o) } };
  const client = connect(o.addr, Number(o.timeoutMs));
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
 * key is given as comma-separated values per id, in the view's key order.
 */
async function entityColumns(view: string, ids: string[], o: InvalidateOptions) {
  const config = loadConfig(o.featureViews === undefined ? {} : { featureViews: o.featureViews });
  const views = await loadFeatureViews(config.featureViews, { l1TtlMs: 1, notFoundTtlMs: 1 });
  const spec = views.get(view);
  if (spec === undefined) throw new Error(`no view "${view}" in ${config.featureViews}`);
  const parts = ids.map((id) => id.split(','));
  return {
    columns: spec.joinKeys.map((key, k) => {
      const values = parts.map((p) => {
        const v = p[k];
        if (v === undefined)
          throw new Error(
            `id needs ${spec.joinKeys.length} comma-separated values (${spec.joinKeys.map((j) => j.name).join(', ')})`,
          );
        return v;
      });
      return key.type === 'int64'
        ? { name: key.name, int64_values: values }
        : { name: key.name, string_values: values };
    }),
  };
}
