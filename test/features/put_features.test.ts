import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { entityRows } from '../../src/features/entity_keys.js';
import { toFeatureView } from '../../src/features/view.js';
import { sleep } from '../helpers/door.js';
import { featureSide, putColumn } from '../helpers/feature_side.js';
import { redisClient } from '../helpers/redis_keys.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

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
    const { reader, writer, cache, close } = await featureSide([view], { l2Jitter: 0.5 });
    closers.push(close);
    const ids = Array.from({ length: 200 }, (_, i) => `id-${i}`);
    const entities = [{ name: 'id', string_values: ids, int64_values: [] }];
    const now = Date.now();
    const result = await writer.put(
      {
        view: 'v',
        entities,
        features: [putColumn({ name: 'n', type: 3, int32_values: ids.map((_, i) => i) })],
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
