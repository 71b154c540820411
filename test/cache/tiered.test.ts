import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { CacheKind } from '../../src/cache/kind.js';
import { L1Cache } from '../../src/cache/l1.js';
import { TieredCache } from '../../src/cache/tiered.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { NullDoor } from '../../src/redis/null_door.js';
import { type Blob, blob, blobKind } from '../helpers/blob_kind.js';
import { openDoor, sleep } from '../helpers/door.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const SHARES = { p: 0.5, f: 0.3, e: 0.2 };
const kind = blobKind({ width: 8 });

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

/** An L1 and a TieredCache of their own over a door of their own to the shared Redis. */
async function tiers(maxPendingWrites = 1000, shares = SHARES) {
  const d = await openDoor(sharedRedisUrl());
  closers.push(() => d.close());
  const l1 = new L1Cache({ maxBytes: 1 << 20, shares }, d.metrics.cache, d.metrics.l1Sources);
  const cache = new TieredCache(l1, d.door, { maxPendingWrites }, d.metrics.cache);
  return { ...d, cache };
}

const redis = new Redis(sharedRedisUrl());
closers.push(() => redis.quit());
const prefix = `tiered-${randomUUID()}`;
let n = 0;
const freshKey = (name: string) => `${prefix}:${name}:${n++}`;

const byte0 = (hit: { value: Blob } | undefined) => hit?.value.data[0];

/** Writes `value` to L2 through a cache of its own and waits until it is there. */
async function inL2(key: string, value: Blob, as: CacheKind<Blob> = kind): Promise<void> {
  const writer = await tiers();
  writer.cache.setMany(as, [key], [value]);
  await writer.cache.flush();
  expect(await redis.exists(key)).toBe(1);
}

describe('tiered cache against a real Redis', () => {
  it('answers from L1 first, then L2 in one round trip, and copies L2 hits into L1', async () => {
    const reader = await tiers();
    const [a, b, c] = [freshKey('a'), freshKey('b'), freshKey('c')];
    await inL2(a, blob(8, 1));
    await inL2(b, blob(8, 2));
    reader.cache.l1(kind).set(a, blob(8, 10), 60_000);

    const hits = await reader.cache.getMany(kind, [a, b, c]);
    expect(hits.map((h) => h?.tier)).toEqual(['l1', 'l2', undefined]);
    expect(hits.map(byte0)).toEqual([10, 2, undefined]);
    expect(reader.cache.l1(kind).get(b)?.data[0]).toBe(2);
    expect(await reader.metric('infercache_redis_operation_duration_seconds_count', { op: 'mget' })).toBe(1);
    const lookups = (tier: string, result: string) =>
      reader.metric('infercache_cache_lookups_total', { kind: 'p', tier, result });
    expect([await lookups('l1', 'hit'), await lookups('l1', 'miss')]).toEqual([1, 2]);
    expect([await lookups('l2', 'hit'), await lookups('l2', 'miss')]).toEqual([1, 1]);

    // Everything in L1 now: no round trip at all.
    expect((await reader.cache.getMany(kind, [a, b])).map((h) => h?.tier)).toEqual(['l1', 'l1']);
    expect(await reader.metric('infercache_redis_operation_duration_seconds_count', { op: 'mget' })).toBe(1);
  });

  it('fetches a key named several times in one lookup from L2 once, and answers it at each of its rows', async () => {
    const reader = await tiers();
    const [a, b, gone] = [freshKey('dup-a'), freshKey('dup-b'), freshKey('dup-gone')];
    await inL2(a, blob(8, 1));
    await inL2(b, blob(8, 2));
    const hits = await reader.cache.getMany(kind, [a, b, a, gone, a, gone]);
    expect(Array.from(hits, (h) => [h?.tier, byte0(h)])).toEqual([
      ['l2', 1],
      ['l2', 2],
      ['l2', 1],
      [undefined, undefined],
      ['l2', 1],
      [undefined, undefined],
    ]);
    const lookups = (tier: string, result: string) =>
      reader.metric('infercache_cache_lookups_total', { kind: 'p', tier, result });
    expect([await lookups('l1', 'miss'), await lookups('l2', 'hit'), await lookups('l2', 'miss')]).toEqual([
      6, 2, 1,
    ]);
    expect(await reader.metric('infercache_redis_operation_duration_seconds_count', { op: 'mget' })).toBe(1);
    expect(await reader.metric('infercache_redis_errors_total')).toBeUndefined();
  });

  it('treats values the caller does not accept (too old) as misses in both tiers', async () => {
    const reader = await tiers();
    const [x, y] = [freshKey('old-l1'), freshKey('old-l2')];
    reader.cache.l1(kind).set(x, blob(8, 5, 10_000), 60_000);
    await inL2(y, blob(8, 6, 10_000));
    const fresh = (v: Blob) => v.time >= Date.now() - 1000;
    expect(await reader.cache.getMany(kind, [x, y], { accept: fresh })).toEqual([undefined, undefined]);
    expect(reader.cache.l1(kind).get(y)).toBeUndefined();
    const any = await reader.cache.getMany(kind, [x, y], { accept: () => true });
    expect(any.map((h) => [h?.tier, byte0(h)])).toEqual([
      ['l1', 5],
      ['l2', 6],
    ]);
  });

  it('stores L2 values with a jittered TTL close to the configured one', async () => {
    const { cache } = await tiers();
    const jittered = blobKind({ width: 8, l2Ms: 60_000, jitter: 0.1 });
    const keys = Array.from({ length: 20 }, () => freshKey('ttl'));
    cache.setMany(
      jittered,
      keys,
      keys.map(() => blob(8)),
    );
    await cache.flush();
    const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(54_000 - 5_000);
      expect(ttl).toBeLessThanOrEqual(66_000);
    }
    expect(new Set(ttls).size).toBeGreaterThan(1);
  });

  describe.each([
    [
      'garbage bytes',
      'format',
      async (key: string) => void (await redis.set(key, 'not a value at all, 32 bytes+')),
    ],
    [
      "another key's value copied under this key",
      'checksum',
      async (key: string) => {
        const other = freshKey('other');
        await inL2(other, blob(8, 7));
        await redis.copy(other, key);
      },
    ],
    [
      'a truncated value',
      'checksum',
      async (key: string) => {
        await inL2(key, blob(8, 7));
        const bytes = (await redis.getBuffer(key)) as Buffer;
        await redis.set(key, bytes.subarray(0, bytes.length - 1));
      },
    ],
    ['a value of another schema', 'schema', (key: string) => inL2(key, blob(16, 7), blobKind({ width: 16 }))],
  ])('a value in L2 that fails its check: %s', (_name, reason, plant) => {
    it(`is a miss, counted as ${reason}, and a later write overwrites it`, async () => {
      const key = freshKey('bad');
      await plant(key);
      const reader = await tiers();
      expect(await reader.cache.getMany(kind, [key])).toEqual([undefined]);
      expect(reader.cache.l1(kind).get(key)).toBeUndefined();
      expect(await reader.metric('infercache_cache_rejected_values_total', { kind: 'p', reason })).toBe(1);
      expect(await reader.metric('infercache_cache_lookups_total', { tier: 'l2', result: 'miss' })).toBe(1);

      reader.cache.setMany(kind, [key], [blob(8, 42)]);
      await reader.cache.flush();
      const later = await tiers();
      const hits = await later.cache.getMany(kind, [key]);
      expect(hits.map((h) => [h?.tier, byte0(h)])).toEqual([['l2', 42]]);
      expect(await later.metric('infercache_cache_rejected_values_total')).toBeUndefined();
    });
  });

  it('never keeps an L1 copy of an L2 hit past the L2 lifetime of the value', async () => {
    const shortL2 = blobKind({ width: 8, l1Ms: 60_000, l2Ms: 10_000 });
    const reader = await tiers();
    // Values another writer left in Redis for longer than this reader's L2 TTL.
    const [expired, expiring] = [freshKey('expired'), freshKey('expiring')];
    await redis.set(expired, reader.cache.frame(shortL2, expired, blob(8, 1, 20_000)), 'PX', 60_000);
    await redis.set(expiring, reader.cache.frame(shortL2, expiring, blob(8, 2, 9_400)), 'PX', 60_000);
    const hits = await reader.cache.getMany(shortL2, [expired, expiring]);
    expect(hits.map((h) => h?.tier)).toEqual(['l2', 'l2']);
    expect(reader.cache.l1(shortL2).get(expired)).toBeUndefined();
    expect(reader.cache.l1(shortL2).get(expiring)).toBeDefined();
    // Its L2 lifetime ends some 600 ms after it was made, long before the 60 s of L1.
    await sleep(800);
    expect(reader.cache.l1(shortL2).get(expiring)).toBeUndefined();
  });

  it("bounds an L1 copy by the kind's copyTtl, when it has one, without drawing a ttl() per hit", async () => {
    const base = blobKind({ width: 8, l1Ms: 60_000, l2Ms: 10_000 });
    const constant: CacheKind<Blob> = {
      ...base,
      ttl: () => {
        throw new Error('ttl() drawn for a copy');
      },
      copyTtl: { l1Ms: 60_000, l2FloorMs: 10_000 },
    };
    const reader = await tiers();
    const [expired, expiring] = [freshKey('expired'), freshKey('expiring')];
    await redis.set(expired, reader.cache.frame(constant, expired, blob(8, 1, 20_000)), 'PX', 60_000);
    await redis.set(expiring, reader.cache.frame(constant, expiring, blob(8, 2, 9_400)), 'PX', 60_000);
    const hits = await reader.cache.getMany(constant, [expired, expiring]);
    expect(hits.map((h) => h?.tier)).toEqual(['l2', 'l2']);
    expect(reader.cache.l1(constant).get(expired)).toBeUndefined();
    expect(reader.cache.l1(constant).get(expiring)).toBeDefined();
    await sleep(800);
    expect(reader.cache.l1(constant).get(expiring)).toBeUndefined();
  });

  it('reads the L2 misses of calls made together in one MGET, each answered in its own order', async () => {
    const reader = await tiers();
    const keys = Array.from({ length: 6 }, (_, i) => freshKey(`together${i}`));
    for (const [i, key] of keys.entries()) await inL2(key, blob(8, 20 + i));
    const mgets = async () =>
      (await reader.metric('infercache_redis_operation_duration_seconds_count', { op: 'mget' })) ?? 0;
    const before = await mgets();
    const gone = new AbortController();
    const calls = [
      reader.cache.getMany(kind, [keys[0], keys[1], keys[2]] as string[]),
      reader.cache.getMany(kind, [keys[2], freshKey('absent'), keys[0]] as string[]),
      reader.cache.getMany(kind, [keys[3]] as string[], { signal: gone.signal }),
      reader.cache.getMany(kind, [keys[5], keys[4]] as string[]),
    ];
    gone.abort();
    const [a, b, c, d] = await Promise.all(calls);
    expect(a?.map(byte0)).toEqual([20, 21, 22]);
    expect(b?.map(byte0)).toEqual([22, undefined, 20]);
    expect(c?.map(byte0)).toEqual([undefined]);
    expect(d?.map(byte0)).toEqual([25, 24]);
    expect(await mgets()).toBe(before + 1);
  });

  it('shares a read among calls only up to 4,096 keys in all', async () => {
    const reader = await tiers();
    const mgets = async () =>
      (await reader.metric('infercache_redis_operation_duration_seconds_count', { op: 'mget' })) ?? 0;
    const before = await mgets();
    const calls = Array.from({ length: 4 }, (_, c) =>
      reader.cache.getMany(
        kind,
        Array.from({ length: 1500 }, (_, i) => freshKey(`share${c}-${i}`)),
      ),
    );
    for (const answers of await Promise.all(calls)) expect(answers.every((a) => a === undefined)).toBe(true);
    // 1,500 + 1,500 fit in one read; a third call would not: two reads.
    expect(await mgets()).toBe(before + 2);
  });

  it('writes what calls store together in one pipeline', async () => {
    const writer = await tiers();
    const keys = Array.from({ length: 5 }, (_, i) => freshKey(`write${i}`));
    const sets = async () =>
      (await writer.metric('infercache_redis_operation_duration_seconds_count', { op: 'set' })) ?? 0;
    const before = await sets();
    keys.forEach((key, i) => {
      writer.cache.setMany(kind, [key], [blob(8, 40 + i)]);
    });
    await writer.cache.flush();
    expect(await sets()).toBe(before + 1);
    for (const key of keys) expect(await redis.exists(key)).toBe(1);
  });

  it('never copies an L2 read over what a writer or an invalidation changed in L1 while the read was in flight', async () => {
    const reader = await tiers();
    const [written, dropped] = [freshKey('race-written'), freshKey('race-dropped')];
    await inL2(written, blob(8, 1));
    await inL2(dropped, blob(8, 2));

    // A writer (PutFeatures) replaces the row in L1 while the read of the old one is in flight.
    const read = reader.cache.getMany(kind, [written]);
    reader.cache.l1(kind).set(written, blob(8, 9), 60_000);
    expect((await read).map(byte0)).toEqual([1]);
    expect(reader.cache.l1(kind).get(written)?.data[0]).toBe(9);

    // An invalidation drops the row while the read of it is in flight.
    const again = reader.cache.getMany(kind, [dropped]);
    reader.cache.l1Cache.delete(kind.id, dropped);
    expect((await again).map(byte0)).toEqual([2]);
    expect(reader.cache.l1(kind).get(dropped)).toBeUndefined();

    // With nothing changed meanwhile, an L2 hit is copied into L1 as usual.
    expect((await reader.cache.getMany(kind, [dropped])).map((h) => h?.tier)).toEqual(['l2']);
    expect(reader.cache.l1(kind).get(dropped)?.data[0]).toBe(2);
    expect(await reader.metric('infercache_l1_kept_back_total', { kind: kind.id, source: 'l2' })).toBe(2);
  });

  it('still copies the keys nobody changed while a read was in flight, when writes of other keys of its kind land meanwhile', async () => {
    const reader = await tiers();
    const [a, b, other] = [freshKey('busy-a'), freshKey('busy-b'), freshKey('busy-other')];
    await inL2(a, blob(8, 1));
    await inL2(b, blob(8, 2));

    // A stream of writes (feature ingestion, the echo of one's own writes) changes other keys meanwhile.
    const read = reader.cache.getMany(kind, [a, b]);
    reader.cache.l1(kind).set(other, blob(8, 7), 60_000);
    reader.cache.l1Cache.delete(kind.id, `${other}-gone`);
    expect((await read).map(byte0)).toEqual([1, 2]);
    expect(reader.cache.l1(kind).get(a)?.data[0]).toBe(1);
    expect(reader.cache.l1(kind).get(b)?.data[0]).toBe(2);
    expect((await reader.metric('infercache_l1_kept_back_total', { kind: kind.id, source: 'l2' })) ?? 0).toBe(
      0,
    );

    // A scope invalidated meanwhile (a prefix, no single key) holds back every copy of its kind.
    const [c] = [freshKey('busy-c')];
    await inL2(c, blob(8, 3));
    const later = reader.cache.getMany(kind, [c]);
    reader.cache.l1Cache.deletePrefix(kind.id, `${prefix}:nothing-here:`);
    expect((await later).map(byte0)).toEqual([3]);
    expect(reader.cache.l1(kind).get(c)).toBeUndefined();
    // Nothing of it is remembered once no read is in flight.
    expect(reader.cache.l1Marks.keys).toBe(0);
  });

  it('sends a large store to L2 in slices of 128 values, one turn of the event loop each', async () => {
    const writer = await tiers();
    const keys = Array.from({ length: 300 }, (_, i) => freshKey(`slice${i}`));
    const sets = async () =>
      (await writer.metric('infercache_redis_operation_duration_seconds_count', { op: 'set' })) ?? 0;
    const before = await sets();
    writer.cache.setMany(
      kind,
      keys,
      keys.map((_, i) => blob(8, i % 250)),
    );
    await writer.cache.flush();
    expect(await sets()).toBe(before + 3);
    expect(await redis.exists(...keys)).toBe(300);
  });

  it('drops writes past maxPendingWrites and counts them, keeping them in L1', async () => {
    const { cache, metric } = await tiers(10);
    const first = Array.from({ length: 8 }, () => freshKey('pending'));
    const second = Array.from({ length: 5 }, () => freshKey('dropped'));
    cache.setMany(
      kind,
      first,
      first.map(() => blob(8)),
    );
    cache.setMany(
      kind,
      second,
      second.map(() => blob(8)),
    );
    expect(await metric('infercache_l2_dropped_writes_total', { kind: 'p' })).toBe(5);
    await cache.flush();
    expect(await redis.exists(...first)).toBe(8);
    expect(await redis.exists(...second)).toBe(0);
    for (const key of second) expect(cache.l1(kind).get(key)).toBeDefined();

    // Once the writes in flight are done, there is room again.
    cache.setMany(
      kind,
      second,
      second.map(() => blob(8)),
    );
    await cache.flush();
    expect(await redis.exists(...second)).toBe(5);
    expect(await metric('infercache_l2_dropped_writes_total', { kind: 'p' })).toBe(5);
  });

  it('flush() waits for the writes in flight', async () => {
    const { cache, chaos } = await tiers();
    chaos.inject({ kind: 'delay', ms: 200 });
    const key = freshKey('slow');
    const started = Date.now();
    cache.setMany(kind, [key], [blob(8)]);
    expect(await redis.exists(key)).toBe(0);
    await cache.flush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await redis.exists(key)).toBe(1);
  });

  it('skips L1 altogether for a kind given a share of 0: nothing looked up, sized, kept or copied there', async () => {
    const { cache } = await tiers(100, { p: 0, f: 0.5, e: 0.5 });
    // Sizing a value is what a store does before it refuses one too large for it.
    let sized = 0;
    const counted: CacheKind<Blob> = {
      ...kind,
      sizeOf: (b) => {
        sized++;
        return kind.sizeOf(b);
      },
    };
    const [a, b] = [freshKey('off-a'), freshKey('off-b')];
    cache.setMany(counted, [a], [blob(8, 4)]);
    await cache.flush();
    await inL2(b, blob(8, 5));
    const hits = await cache.getMany(counted, [a, b, a]);
    expect(hits.map((h) => [h?.tier, byte0(h)])).toEqual([
      ['l2', 4],
      ['l2', 5],
      ['l2', 4],
    ]);
    expect(cache.allFromL1(counted, [a])).toBeUndefined();
    expect([sized, cache.l1(counted).size]).toEqual([0, 0]);
    // The same lookup with L1 on for the kind copies both hits into it.
    const onCache = (await tiers()).cache;
    await onCache.getMany(counted, [a, b]);
    expect([sized, onCache.l1(counted).size]).toEqual([2, 2]);
  });

  it('works from L1 alone when no Redis is configured', async () => {
    const metrics = createMetrics();
    const l1 = new L1Cache({ maxBytes: 1 << 20, shares: SHARES }, metrics.cache, metrics.l1Sources);
    const cache = new TieredCache(l1, new NullDoor(), { maxPendingWrites: 10 }, metrics.cache);
    const key = freshKey('l1-only');
    cache.setMany(kind, [key], [blob(8, 3)]);
    await cache.flush();
    expect((await cache.getMany(kind, [key, freshKey('none')])).map((h) => h?.tier)).toEqual([
      'l1',
      undefined,
    ]);
    expect(await redis.exists(key)).toBe(0);
  });
});
