import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyHasher } from '../../src/cache/keys.js';
import { L1Cache } from '../../src/cache/l1.js';
import { RowEngine } from '../../src/cache/row_engine.js';
import { TieredCache } from '../../src/cache/tiered.js';
import { entityRows } from '../../src/features/entity_keys.js';
import { FeatureReader } from '../../src/features/get_features.js';
import { FeatureWriter } from '../../src/features/put_features.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import { openDoor, sleep } from '../helpers/door.js';
import { redisClient } from '../helpers/redis_keys.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

/** A reader and a writer over a door of their own to the shared Redis, with `jitter` on L2 TTLs. */
async function features(view: FeatureView, jitter: number) {
  const d = await openDoor(sharedRedisUrl());
  closers.push(() => d.close());
  const l1 = new L1Cache(
    { maxBytes: 1 << 24, shares: { p: 0, f: 1, e: 0 } },
    d.metrics.cache,
    d.metrics.l1Sources,
  );
  const cache = new TieredCache(l1, d.door, { maxPendingWrites: 1000 }, d.metrics.cache);
  const views = new Map([[view.name, view]]);
  const keyPrefix = `put-${randomBytes(4).toString('hex')}`;
  const common = { views: () => views, maxEntityRows: 10_000, metrics: d.metrics.features, now: Date.now };
  const reader = new FeatureReader({
    ...common,
    engine: new RowEngine(cache),
    door: d.door,
    hasher: createKeyHasher('xxh3-128', ''),
    keyPrefix,
    l2Jitter: jitter,
    generation: () => 0,
  });
  const writer = new FeatureWriter({ ...common, reader, cache, announce: async () => {} });
  return { reader, writer, cache };
}

describe('PutFeatures', () => {
  const redis: Redis = redisClient(sharedRedisUrl());
  closers.push(async () => redis.disconnect());

  it("never keeps the writer's L1 copy of a row past the jittered Redis lifetime it was given", async () => {
    // ttl 1 s spread by ±50%: Redis keeps each row 0.5 to 1.5 s; L1 at most 1 s.
    const view = toFeatureView(
      {
        name: 'v',
        entities: [{ name: 'id', type: 'string' }],
        features: [{ name: 'n', type: 'int32' }],
        max_age: 500,
        ttl: 1000,
      },
      { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
    );
    const { reader, writer, cache } = await features(view, 0.5);
    const ids = Array.from({ length: 200 }, (_, i) => `id-${i}`);
    const entities = [{ name: 'id', string_values: ids, int64_values: [] }];
    const now = Date.now();
    const result = await writer.put(
      {
        view: 'v',
        entities,
        features: [
          {
            name: 'n',
            type: 3,
            dim: 0,
            float32_values: [],
            float64_values: [],
            int32_values: ids.map((_, i) => i),
            int64_values: [],
            bool_values: [],
            bytes_values: [],
            statuses: [],
          },
        ],
        eventTimes: ids.map(() => now),
      },
      new AbortController().signal,
    );
    expect(result.written).toBe(200);

    const keys = reader.keys(view, entityRows(view.joinKeys, entities, 10_000));
    const l1 = cache.l1(reader.plumbing(view).kind);
    await sleep(850);
    const inRedis = await Promise.all(keys.map((k) => redis.exists(k)));
    const gone = keys.filter((_, i) => inRedis[i] === 0);
    // About a third of the rows expired from Redis by now; so must their L1 copies.
    expect(gone.length).toBeGreaterThan(20);
    expect(gone.filter((k) => l1.get(k) !== undefined)).toEqual([]);
  });
});
