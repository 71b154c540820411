import type { KeyHasher } from '../../src/cache/keys.js';
import type { RowEngine } from '../../src/cache/row_engine.js';
import { FeatureReader } from '../../src/features/get_features.js';
import type { FeatureView } from '../../src/features/view.js';
import { createMetrics } from '../../src/ops/metrics.js';

// In a file of its own, free of the test runner: the key_hash benchmark uses it too.
/**
 * A FeatureReader for making keys and hashes only: no engine, no Redis, no
 * fleet (generations stay 0). Reading rows through it would fail.
 */
export function keyReader(options: {
  readonly hasher: KeyHasher;
  readonly writeHasher?: KeyHasher;
  readonly views?: readonly FeatureView[];
  readonly keyPrefix?: string;
}): FeatureReader {
  return new FeatureReader({
    views: () => new Map((options.views ?? []).map((v) => [v.name, v])),
    engine: undefined as unknown as RowEngine,
    door: { mode: 'none', evalMany: async () => [] },
    hasher: options.hasher,
    ...(options.writeHasher === undefined ? {} : { writeHasher: options.writeHasher }),
    keyPrefix: options.keyPrefix ?? 'keys',
    maxEntityRows: 100,
    l2Jitter: 0,
    metrics: createMetrics().features,
    now: Date.now,
    generation: () => 0,
  });
}
