import { randomBytes } from 'node:crypto';
import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import { L1Cache } from '../../src/cache/l1.js';
import { RowEngine } from '../../src/cache/row_engine.js';
import { TieredCache } from '../../src/cache/tiered.js';
import type { FeatureValuesWire } from '../../src/features/feature_columns.js';
import { FeatureReader, type FeaturesDeps } from '../../src/features/get_features.js';
import { FeatureWriter } from '../../src/features/put_features.js';
import type { FeatureView } from '../../src/features/view.js';
import { openDoor, type TestDoor } from './door.js';
import { sharedRedisUrl } from './shared_redis.js';

export interface FeatureSideOptions {
  /** Defaults to a fresh random prefix; give the same one to two sides to share their keys. */
  readonly keyPrefix?: string;
  /** Jitter of L2 TTLs (0 by default). */
  readonly l2Jitter?: number;
  /** Each Redis round trip's bound (the door's default when absent). */
  readonly timeoutMs?: number;
  readonly onLookup?: FeaturesDeps['onLookup'];
  /** The serving hasher (XXH3-128 by default). */
  readonly hasher?: KeyHasher;
  /** The reader's clock (Date.now by default). */
  readonly now?: () => number;
  /** Early refresh of rows of views with an origin (off by default). */
  readonly earlyRefresh?: FeaturesDeps['earlyRefresh'];
}

/** What one sidecar has for features: one L1, its tiered cache, reader and writer. */
export interface FeatureSide {
  readonly reader: FeatureReader;
  readonly writer: FeatureWriter;
  readonly cache: TieredCache;
  readonly door: TestDoor;
  close(): Promise<void>;
}

/**
 * A sidecar's feature path in this process, over a door of its own to the
 * shared Redis (through a chaos transport a test may fault), wired as
 * app.ts wires it but with no fleet: generations stay 0 and writes announce
 * nothing.
 */
export async function featureSide(
  views: readonly FeatureView[],
  options: FeatureSideOptions = {},
): Promise<FeatureSide> {
  const door = await openDoor(
    sharedRedisUrl(),
    options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
  );
  const l1 = new L1Cache(
    { maxBytes: 1 << 24, shares: { p: 0, f: 1, e: 0 } },
    door.metrics.cache,
    door.metrics.l1Sources,
  );
  const cache = new TieredCache(l1, door.door, { maxPendingWrites: 1000 }, door.metrics.cache);
  const byName = new Map(views.map((v) => [v.name, v]));
  const common = {
    views: () => byName,
    maxEntityRows: 10_000,
    metrics: door.metrics.features,
    now: options.now ?? Date.now,
  };
  const reader = new FeatureReader({
    ...common,
    engine: new RowEngine(cache),
    door: door.door,
    hasher: options.hasher ?? createKeyHasher('xxh3-128', ''),
    keyPrefix: options.keyPrefix ?? `fs-${randomBytes(4).toString('hex')}`,
    l2Jitter: options.l2Jitter ?? 0,
    generation: () => 0,
    ...(options.onLookup === undefined ? {} : { onLookup: options.onLookup }),
    ...(options.earlyRefresh === undefined ? {} : { earlyRefresh: options.earlyRefresh }),
  });
  const writer = new FeatureWriter({ ...common, reader, cache, announce: async () => {} });
  return { reader, writer, cache, door, close: () => door.close() };
}

/** A PutFeatures column (wire shape) with every field empty but those given. */
export function putColumn(
  fields: Partial<FeatureValuesWire> & Pick<FeatureValuesWire, 'name' | 'type'>,
): FeatureValuesWire {
  return {
    dim: 0,
    float32_values: [],
    float64_values: [],
    int32_values: [],
    int64_values: [],
    bool_values: [],
    bytes_values: [],
    statuses: [],
    ...fields,
  };
}

export { keyReader } from './key_reader.js';
