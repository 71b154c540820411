import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKey, createKeyHasher, keyScope } from '../../src/cache/keys.js';
import { L1Cache } from '../../src/cache/l1.js';
import { TieredCache } from '../../src/cache/tiered.js';
import type { Metrics } from '../../src/ops/metrics.js';
import { type Failure, isFailure, type LuaScript, type RedisDoor } from '../../src/redis/door.js';
import { blob, blobKind } from '../helpers/blob_kind.js';
import { metricValue } from '../helpers/metrics.js';

/** A door to a real Redis deployment (one server, a cluster...), made afresh for one suite. */
export interface DoorUnderTest {
  readonly door: RedisDoor;
  /** The metrics the door reports to. */
  readonly metrics: Metrics;
  /** Makes every node forget its cached Lua scripts (SCRIPT FLUSH), as a restarted node would. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The reason of a failed outcome; undefined for a reply. */
const failedFor = (outcome: unknown): Failure['reason'] | undefined =>
  isFailure(outcome) ? outcome.reason : undefined;

const INCR_ALL_SOURCE =
  "local out = {} for i = 1, #KEYS do out[i] = redis.call('INCRBY', KEYS[i], ARGV[1]) end return out";
const INCR_ALL: LuaScript = {
  source: INCR_ALL_SOURCE,
  sha: createHash('sha1').update(INCR_ALL_SOURCE).digest('hex'),
};
const INCRBY: LuaScript = {
  source: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  sha: createHash('sha1').update("return redis.call('INCRBY', KEYS[1], ARGV[1])").digest('hex'),
};

/**
 * What every RedisDoor over a real Redis must do, whatever the deployment
 * behind it. Each test names its own `op`, so its counts are its own.
 */
export function describeDoorContract(name: string, makeDoor: () => Promise<DoorUnderTest>): void {
  describe(`the Redis door contract (${name})`, () => {
    let t: DoorUnderTest;
    beforeAll(async () => {
      t = await makeDoor();
    });
    afterAll(() => t.close());

    // Keys in the real format, so they spread over the slots of a cluster.
    const scope = keyScope(`contract-${randomUUID()}`, 'p', 'm', '1');
    const hash = createKeyHasher('xxh3-128', '');
    let n = 0;
    const freshKeys = (count: number) =>
      Array.from({ length: count }, () => cacheKey(scope, hash(Buffer.from(String(n++)))));
    const metric = async (name: string, labels: Record<string, string>) =>
      metricValue(await t.metrics.registry.metrics(), name, labels);

    it('writes values with a TTL and reads them back in request order, null for a missing key', async () => {
      const [a, b, missing] = freshKeys(3) as [string, string, string];
      const written = await t.door.setMany('c_set', [
        { key: a, value: Buffer.from('value a'), ttlMs: 30_000 },
        { key: b, value: Buffer.from([0, 255, 1]), ttlMs: 30_000 },
      ]);
      expect(written).toBe(2);
      const got = await t.door.getMany('c_get', [b, missing, a]);
      expect(got.map((v) => v?.toString('hex') ?? null)).toEqual([
        '00ff01',
        null,
        Buffer.from('value a').toString('hex'),
      ]);
      const ttls = await t.door.run('c_pttl', 'read', [
        { key: a, name: 'PTTL', args: [a] },
        { key: b, name: 'PTTL', args: [b] },
      ]);
      for (const ttl of ttls) {
        expect(ttl).toBeGreaterThan(25_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
      }
    });

    it('reads and writes a batch of 10,000 keys, answering in request order', async () => {
      const keys = freshKeys(10_000);
      const writes = keys.map((key, i) => ({ key, value: Buffer.from(`v${i}`), ttlMs: 60_000 }));
      expect(await t.door.setMany('c_set_10k', writes)).toBe(10_000);
      const reversed = [...keys].reverse();
      const got = await t.door.getMany('c_get_10k', reversed);
      expect(got).toHaveLength(10_000);
      got.forEach((v, j) => {
        expect(v?.toString()).toBe(`v${9_999 - j}`);
      });
      expect(await metric('infercache_redis_errors_total', { op: 'c_get_10k' })).toBeUndefined();
    });

    it('deletes keys and counts the acknowledged deletions', async () => {
      const [a, b, c, missing] = freshKeys(4) as [string, string, string, string];
      await t.door.setMany(
        'c_set_del',
        [a, b, c].map((key) => ({ key, value: Buffer.from(key), ttlMs: 60_000 })),
      );
      expect(await t.door.deleteMany('c_del', [a, b, missing])).toBe(3);
      expect((await t.door.getMany('c_get_del', [a, b, c])).map((v) => v?.toString() ?? null)).toEqual([
        null,
        null,
        c,
      ]);
      expect(await t.door.deleteMany('c_del', [])).toBe(0);
    });

    it('runs a one-key Lua script by its SHA, sending the body again where a node forgot it', async () => {
      const [a, b] = freshKeys(2) as [string, string];
      const calls = [
        { key: a, args: [5] },
        { key: b, args: [7] },
      ];
      await t.flush();
      expect(await t.door.evalMany('c_eval', INCRBY, calls)).toEqual([5, 7]);
      const noscript = () => metric('infercache_redis_errors_total', { op: 'c_eval', reason: 'noscript' });
      expect(await noscript()).toBe(2);
      // Known now: sent by SHA alone.
      expect(await t.door.evalMany('c_eval', INCRBY, calls)).toEqual([10, 14]);
      expect(await noscript()).toBe(2);
      await t.flush();
      expect(await t.door.evalMany('c_eval', INCRBY, calls)).toEqual([15, 21]);
      expect(await noscript()).toBe(4);
    });

    it('runs a script over several keys of one hash slot in one call, grouped by slotOf', async () => {
      // More keys than the 256 hash tags: some two share a slot on a cluster too.
      const keys = freshKeys(300);
      const bySlot = new Map<number, string[]>();
      for (const key of keys)
        bySlot.set(t.door.slotOf(key), [...(bySlot.get(t.door.slotOf(key)) ?? []), key]);
      const group = [...bySlot.values()].find((g) => g.length > 1) as string[];
      expect(group.length).toBeGreaterThan(1);
      const [first, ...rest] = group as [string, ...string[]];
      const [reply] = await t.door.evalMany('c_eval_keys', INCR_ALL, [{ key: first, keys: rest, args: [3] }]);
      expect(reply).toEqual(group.map(() => 3));
      expect(await t.door.getMany('c_get_keys', group)).toEqual(group.map(() => Buffer.from('3')));
    });

    it('gives a Failure for the one script call that fails, and the replies of the others', async () => {
      const [number, text] = freshKeys(2) as [string, string];
      await t.door.setMany('c_set_eval', [{ key: text, value: Buffer.from('not a number'), ttlMs: 60_000 }]);
      const outcomes = await t.door.evalMany('c_eval_fail', INCRBY, [
        { key: number, args: [1] },
        { key: text, args: [1] },
      ]);
      expect(outcomes[0]).toBe(1);
      expect(failedFor(outcomes[0])).toBeUndefined();
      expect(failedFor(outcomes[1])).toBe('error');
      expect(await metric('infercache_redis_errors_total', { op: 'c_eval_fail', reason: 'error' })).toBe(1);
    });

    it('counts failed commands by op and reason', async () => {
      const [list, plain] = freshKeys(2) as [string, string];
      await t.door.run('c_setup', 'write', [{ key: list, name: 'RPUSH', args: [list, 'x'] }]);
      const outcomes = await t.door.run('c_bad', 'read', [
        { key: list, name: 'GET', args: [list] },
        { key: plain, name: 'GET', args: [plain] },
      ]);
      expect(failedFor(outcomes[0])).toBe('error');
      expect(outcomes[1]).toBeNull();
      expect(await metric('infercache_redis_errors_total', { op: 'c_bad', reason: 'error' })).toBe(1);
      expect(await metric('infercache_redis_errors_total', { op: 'c_setup' })).toBeUndefined();
    });

    it('carries cached values end to end: what one TieredCache writes, another reads back checked', async () => {
      const kind = blobKind({ width: 64 });
      const keys = freshKeys(200);
      const values = keys.map((_, i) => blob(64, i));
      const tiered = () => {
        const l1 = new L1Cache(
          { maxBytes: 1 << 20, shares: { p: 1, f: 0, e: 0 } },
          t.metrics.cache,
          t.metrics.l1Sources,
        );
        return new TieredCache(l1, t.door, { maxPendingWrites: 1000 }, t.metrics.cache);
      };
      const writer = tiered();
      writer.setMany(kind, keys, values);
      await writer.flush();
      const hits = await tiered().getMany(kind, keys);
      expect(hits.map((h) => h?.tier)).toEqual(keys.map(() => 'l2'));
      hits.forEach((h, i) => {
        expect(h?.value.data.equals((values[i] as { data: Buffer }).data)).toBe(true);
        expect(h?.value.time).toBe(values[i]?.time);
      });
      expect(await metric('infercache_cache_rejected_values_total', {})).toBeUndefined();
    });
  });
}
