import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createRedisDoor } from '../../src/redis/create_door.js';
import type { RedisDoor } from '../../src/redis/door.js';
import { sleep, waitUntil } from '../helpers/door.js';
import { type RedisCluster, startRedisCluster } from '../helpers/redis_cluster.js';

describe('a door to a Redis Cluster with replicas', () => {
  let cluster: RedisCluster;
  let door: RedisDoor;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    door = createRedisDoor(
      {
        url: cluster.seedUrls,
        mode: 'cluster',
        timeoutMs: 1000,
        circuit: { resetMs: 1000, errorThresholdPct: 50 },
      },
      createMetrics().redis,
      createLogger('silent'),
    );
  }, 60_000);
  afterAll(async () => {
    await door?.close();
    await cluster?.stop();
  });

  it('links to the masters only: replicas own no slot and get no subscription or tracking', async () => {
    const nodes = await cluster.nodes();
    const masters = nodes.filter((n) => n.role === 'master').map((n) => `127.0.0.1:${n.port}`);
    expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
    const links = door.openLinks({ onReady: async () => {}, onMessage: () => {}, onDown: () => {} });
    try {
      const linked = () =>
        links
          .all()
          .map((l) => l.node.replace('localhost', '127.0.0.1'))
          .sort();
      await waitUntil('a link to every master', () => linked().length >= 3);
      // Long enough for ioredis to have reported the replicas, and for the
      // links made from the seed list before the slot map was known to go.
      await sleep(3000);
      expect(linked()).toEqual([...masters].sort());
    } finally {
      links.close();
    }
  }, 60_000);
});
