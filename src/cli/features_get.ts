import { loadConfig } from '../config/load.js';
import { InferCacheError } from '../errors.js';
import { entityColumns } from '../features/load_batch.js';
import { idFromText } from '../features/load_values.js';
import type { FeatureView } from '../features/view.js';
import { connect } from './client.js';
import { viewNamed } from './feature_store.js';
import { entityTable, tableText } from './feature_table.js';

export interface GetCommandOptions {
  features?: string;
  addr: string;
  output: 'text' | 'json';
  timeoutMs: string;
}

/**
 * `infercache features get VIEW ID...`: one GetFeatures call, printed as a
 * table (one row per entity) or JSON. The join keys come from the views
 * file of the config (INFERCACHE_FEATURE_VIEWS), which should be the
 * sidecar's: an int64 key's ids are integers; a composite key's id is its
 * values in the view's join key order, separated by commas.
 */
export async function featuresGetCommand(viewName: string, ids: string[], o: GetCommandOptions) {
  const view = await viewNamed(loadConfig({}), viewName);
  const parsed = ids.map((id) => parseId(view, id));
  const features =
    o.features === undefined
      ? [view.name]
      : o.features
          .split(',')
          .map((f) => f.trim())
          .filter((f) => f !== '')
          .map((f) => `${view.name}:${f}`);
  const rows = parsed.map((values) => ({ ids: values, eventTime: 0, values: [] }));
  const client = connect(o.addr, Number(o.timeoutMs));
  try {
    const reply = await client.getFeatures({ features, entities: { columns: entityColumns(view, rows) } });
    const table = entityTable(view, parsed, reply, Date.now());
    process.stdout.write(
      o.output === 'json'
        ? `${JSON.stringify({ view: view.name, entities: table })}\n`
        : tableText(view, table),
    );
  } finally {
    client.close();
  }
}

/** An id from the command line as the view's join values; a composite key's are comma-separated. */
export function parseId(view: FeatureView, id: string): string[] {
  const parts = view.joinKeys.length === 1 ? [id] : id.split(',');
  if (parts.length !== view.joinKeys.length) {
    const names = view.joinKeys.map((k) => k.name).join(',');
    throw new InferCacheError('E_INVALID_ARGUMENT', `id "${id}": expected ${names} (comma-separated)`);
  }
  return view.joinKeys.map((key, j) => {
    try {
      return idFromText(key, parts[j] as string);
    } catch (error) {
      throw new InferCacheError('E_INVALID_ARGUMENT', `id "${id}", ${key.name}: ${(error as Error).message}`);
    }
  });
}
