import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEntry } from '../../src/cache/codec.js';
import type { CacheEntry } from '../../src/cache/entry.js';
import { L1Cache } from '../../src/cache/l1.js';
import { L2Cache } from '../../src/cache/l2.js';
import { TieredCache } from '../../src/cache/tiered.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { DType } from '../../src/tensor/dtypes.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const log = createLogger('silent');
const circuit = { resetMs: 1000, errorThresholdPct: 50 };
const entry = (value: number, createdAt = Date.now()): CacheEntry => ({
  createdAt,
  tensors: [{ dtype: DType.FLOAT32, dims: [1], data: Buffer.from(new Float32Array([value]).buffer) }],
});
const firstFloat = (e: CacheEntry | undefined) => e?.tensors[0]?.data.readFloatLE(0);

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function tiers() {
  const metrics = createMetrics();
  const l2 = new L2Cache(
    { url: sharedRedisUrl(), timeoutMs: 1000, maxPendingWrites: 1000, circuit },
    metrics,
    log,
  );
  closers.push(() => l2.close());
  const deadline = Date.now() + 5000;
  while (!l2.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const l1 = new L1Cache({ maxBytes: 1 << 20, ttlMs: 60_000 }, metrics);
  const cache = new TieredCache(l1, l2, { l2TtlMs: 60_000, l2TtlJitter: 0.1 }, metrics);
  return { cache, l1, l2, metrics };
}

const redis = new Redis(sharedRedisUrl());
closers.push(() => redis.quit());
const prefix = `tiered-${randomUUID()}`;

async function untilInRedis(key: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await redis.exists(key)) === 0) {
    if (Date.now() > deadline) throw new Error(`${key} never reached Redis`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('tiered cache against a real Redis', () => {
  it('answers from L1 first, then L2 in one round trip, and copies L2 hits into L1', async () => {
    const writer = await tiers();
    const reader = await tiers();
    const keys = [`${prefix}:a`, `${prefix}:b`, `${prefix}:c`];
    writer.cache.setMany(keys.slice(0, 2), [entry(1), entry(2)]);
    await untilInRedis(keys[1] as string);
    reader.l1.set(keys[0] as string, entry(10));

    const hits = await reader.cache.getMany('p', keys);
    expect(hits.map((h) => h?.tier)).toEqual(['l1', 'l2', undefined]);
    expect(hits.map((h) => firstFloat(h?.entry))).toEqual([10, 2, undefined]);
    expect(reader.l1.get(keys[1] as string)).toBeDefined();
    const text = await reader.metrics.registry.metrics();
    expect(text).toMatch(/infercache_l2_operation_duration_seconds_count\{op="mget"\} 1\b/);
  });

  it('stores L2 entries with a jittered TTL close to the configured one', async () => {
    const { cache } = await tiers();
    const key = `${prefix}:ttl`;
    cache.setMany([key], [entry(1)]);
    await untilInRedis(key);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(60_000 * 0.85);
    expect(ttl).toBeLessThanOrEqual(60_000 * 1.1);
  });

  it('treats entries older than max age as misses in both tiers', async () => {
    const { cache, l1 } = await tiers();
    const key = `${prefix}:old`;
    await redis.set(key, encodeEntry(entry(5, Date.now() - 10_000)));
    l1.set(key, entry(6, Date.now() - 10_000));
    expect((await cache.getMany('p', [key], 1000))[0]).toBeUndefined();
    expect((await cache.getMany('p', [key], 60_000))[0]?.tier).toBe('l1');
  });

  it('serves a value that fails to decode as a miss and counts it', async () => {
    const { cache, metrics } = await tiers();
    const key = `${prefix}:corrupt`;
    await redis.set(key, Buffer.from('\u00c1 definitely not a value'));
    expect((await cache.getMany('p', [key]))[0]).toBeUndefined();
    expect(await metrics.registry.metrics()).toMatch(/infercache_cache_decode_errors_total 1\b/);
  });
});
