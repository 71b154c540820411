import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { L2Cache } from '../../src/cache/l2.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

const waitFor = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('L2 when Redis goes away', () => {
  it('answers misses at once while Redis is down, drops writes with a count, and recovers by itself', async () => {
    const metrics = createMetrics();
    const l2 = new L2Cache(
      {
        url: server.url,
        timeoutMs: 200,
        maxPendingWrites: 100,
        circuit: { resetMs: 500, errorThresholdPct: 50 },
      },
      metrics,
      createLogger('silent'),
    );
    try {
      await waitFor(() => l2.connected, 'the first connection');

      await server.stop();
      await waitFor(() => !l2.connected, 'the disconnect');
      expect(await l2.getMany(['k', 'other'])).toEqual([null, null]);
      l2.writeMany([{ key: 'k2', value: Buffer.from('v'), ttlMs: 60_000 }]);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/infercache_l2_errors_total\{op="mget",reason="unavailable"\} 1\b/);
      expect(text).toMatch(/infercache_l2_dropped_writes_total 1\b/);
      expect(text).toMatch(/^infercache_l2_connected 0$/m);

      await server.start();
      await waitFor(() => l2.connected, 'the reconnect');
      l2.writeMany([{ key: 'k3', value: Buffer.from('v3'), ttlMs: 60_000 }]);
      let got: (Buffer | null)[] = [];
      // Writes are asynchronous: poll until it lands (bounded).
      for (let i = 0; i < 250 && got[0] == null; i++) {
        got = await l2.getMany(['k3']);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(got[0]?.toString()).toBe('v3');
    } finally {
      await l2.close();
    }
  });

  it('opens the circuit when a connected Redis stops answering in time, skips it at once, and closes again', async () => {
    // DEBUG is off by default since Redis 7; this server allows it from localhost.
    const slow = await startRedis({ args: ['--enable-debug-command', 'local'] });
    const metrics = createMetrics();
    const l2 = new L2Cache(
      {
        url: slow.url,
        timeoutMs: 100,
        maxPendingWrites: 100,
        circuit: { resetMs: 300, errorThresholdPct: 50 },
      },
      metrics,
      createLogger('silent'),
    );
    const admin = new Redis(slow.url);
    try {
      await waitFor(() => l2.connected, 'the first connection');
      await admin.set('breaker-key', 'v');
      // DEBUG SLEEP blocks the real server: connected, but answering nothing.
      const sleeping = admin.call('DEBUG', 'SLEEP', '2');
      const text = async () => metrics.registry.metrics();
      for (let i = 0; i < 10 && !/^infercache_l2_circuit_open 1$/m.test(await text()); i++) {
        expect(await l2.getMany(['breaker-key'])).toEqual([null]);
      }
      expect(await text()).toMatch(/^infercache_l2_circuit_open 1$/m);
      expect(await l2.getMany(['breaker-key'])).toEqual([null]);
      const opened = await text();
      expect(opened).toMatch(/infercache_l2_errors_total\{op="mget",reason="timeout"\} [1-9]/);
      expect(opened).toMatch(/infercache_l2_errors_total\{op="mget",reason="circuit_open"\} [1-9]/);

      await sleeping;
      let got: (Buffer | null)[] = [null];
      for (let i = 0; i < 100 && got[0] == null; i++) {
        await new Promise((r) => setTimeout(r, 50));
        got = await l2.getMany(['breaker-key']);
      }
      expect(got[0]?.toString()).toBe('v');
      expect(await text()).toMatch(/^infercache_l2_circuit_open 0$/m);
    } finally {
      admin.disconnect();
      await l2.close();
      await slow.stop();
    }
  });
});
