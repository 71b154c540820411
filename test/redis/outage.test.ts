import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { L1Cache } from '../../src/cache/l1.js';
import { TieredCache } from '../../src/cache/tiered.js';
import type { Logger } from '../../src/ops/logger.js';
import { blob, blobKind } from '../helpers/blob_kind.js';
import { openDoor, sleep, type TestDoor, waitUntil } from '../helpers/door.js';
import { INFO, memoryLog, WARN } from '../helpers/memory_log.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';

const kind = blobKind({ width: 8 });

describe('the Redis door through an outage', () => {
  const servers: RedisServer[] = [];
  const doors: TestDoor[] = [];
  afterAll(async () => {
    for (const d of doors) await d.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function serverAndDoor(args: string[], timeoutMs: number, resetMs: number, log?: Logger) {
    const server = await startRedis({ args });
    servers.push(server);
    const d = await openDoor(server.url, { timeoutMs, resetMs, ...(log ? { log } : {}) });
    doors.push(d);
    return { server, d };
  }

  it('misses every read at once while Redis is down, counts it as unavailable, and recovers by itself', async () => {
    const { log, lines } = memoryLog();
    const { server, d } = await serverAndDoor([], 1000, 500, log);
    const l1 = new L1Cache(
      { maxBytes: 1 << 20, shares: { p: 1, f: 0, e: 0 } },
      d.metrics.cache,
      d.metrics.l1Sources,
    );
    const cache = new TieredCache(l1, d.door, { maxPendingWrites: 100 }, d.metrics.cache);
    cache.setMany(kind, ['cached'], [blob(8, 1)]);
    await cache.flush();

    await server.stop();
    await waitUntil('the disconnect', () => !d.door.connected);
    await waitUntil('the connection log to tell of it', () => lines.some((l) => l.level === WARN));
    expect(await d.metric('infercache_redis_node_connected')).toBe(0);
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect(await d.door.getMany('mget', ['a', 'b'])).toEqual([undefined, undefined]);
      // Well under the 1,000 ms timeout: nothing waits for a server that is gone.
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(await d.metric('infercache_redis_errors_total', { op: 'mget', reason: 'unavailable' })).toBe(20);
    expect(await d.door.setMany('set', [{ key: 'k', value: Buffer.from('v'), ttlMs: 60_000 }])).toBe(0);
    expect(await d.metric('infercache_redis_errors_total', { op: 'set', reason: 'unavailable' })).toBe(1);
    // L1 still answers; what it lacks is a miss, at once.
    expect((await cache.getMany(kind, ['cached', 'other'])).map((h) => h?.tier)).toEqual(['l1', undefined]);

    await server.start();
    await waitUntil('the reconnect', () => d.door.connected, 15_000);
    expect(await d.metric('infercache_redis_node_connected')).toBe(1);
    expect(await d.door.setMany('set', [{ key: 'k', value: Buffer.from('v'), ttlMs: 60_000 }])).toBe(1);
    expect((await d.door.getMany('mget', ['k']))[0]?.toString()).toBe('v');

    // One line when the connection goes, one when it is back, whatever failed in between.
    const told = lines.filter((l) => l.level >= INFO).map((l) => [l.level, l.msg]);
    expect(told.filter(([level]) => level === WARN)).toEqual([
      [WARN, expect.stringMatching(/^L2 unreachable/)],
    ]);
    expect(told.filter(([, msg]) => msg === 'L2 reconnected')).toHaveLength(1);
  });

  it('opens the read circuit when a connected Redis stops answering, skips it at once, and closes it after', async () => {
    // DEBUG is off by default since Redis 7; this server allows it from localhost.
    const { server, d } = await serverAndDoor(['--enable-debug-command', 'local'], 100, 300);
    const admin = new Redis(server.url);
    try {
      await admin.set('breaker-key', 'v');
      // DEBUG SLEEP blocks the server: connected, but answering nothing.
      const sleeping = admin.call('DEBUG', 'SLEEP', '2');
      const circuit = () => d.metric('infercache_redis_circuit_open', { direction: 'read' });
      for (let i = 0; (await circuit()) !== 1; i++) {
        expect(i).toBeLessThan(15);
        expect(await d.door.getMany('mget', ['breaker-key'])).toEqual([undefined]);
      }
      expect(
        await d.metric('infercache_redis_errors_total', { op: 'mget', reason: 'timeout' }),
      ).toBeGreaterThan(0);
      const trips = d.chaos.calls;
      expect(await d.door.getMany('mget', ['breaker-key'])).toEqual([undefined]);
      expect(d.chaos.calls).toBe(trips);
      expect(await d.metric('infercache_redis_errors_total', { op: 'mget', reason: 'circuit_open' })).toBe(1);

      await sleeping;
      let got: (Buffer | null | undefined)[] = [null];
      for (let i = 0; i < 100 && got[0] == null; i++) {
        await sleep(50);
        got = await d.door.getMany('mget', ['breaker-key']);
      }
      expect(got[0]?.toString()).toBe('v');
      expect(await circuit()).toBe(0);
    } finally {
      admin.disconnect();
    }
  });
});
