import { load } from './dist.js';

type FeatureStore = typeof import('../../src/cli/feature_store.js');
type ConfigLoad = typeof import('../../src/config/load.js');
type EntityKeys = typeof import('../../src/features/entity_keys.js');
type ValueFrame = typeof import('../../src/cache/value_frame.js');

/** The feature modules a scenario times in this process. */
export interface FeatureCode {
  readonly loadConfig: ConfigLoad['loadConfig'];
  readonly viewNamed: FeatureStore['viewNamed'];
  readonly openFeatureStore: FeatureStore['openFeatureStore'];
  readonly entityRows: EntityKeys['entityRows'];
  readonly decodeFrame: ValueFrame['decodeFrame'];
}

/** From dist/, not src/ through tsx, for the reason dist.ts gives (tsx's per-closure naming cost). */
export async function featureCode(): Promise<FeatureCode> {
  const [store, config, keys, frame] = await Promise.all([
    load<FeatureStore>('cli/feature_store.js'),
    load<ConfigLoad>('config/load.js'),
    load<EntityKeys>('features/entity_keys.js'),
    load<ValueFrame>('cache/value_frame.js'),
  ]);
  return {
    loadConfig: config.loadConfig,
    viewNamed: store.viewNamed,
    openFeatureStore: store.openFeatureStore,
    entityRows: keys.entityRows,
    decodeFrame: frame.decodeFrame,
  };
}
