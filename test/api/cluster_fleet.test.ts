import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { type RedisCluster, startRedisCluster } from '../helpers/redis_cluster.js';
import { redisCommand } from '../helpers/redis_command.js';
import { eventually, HEAVY_IN, heavyRequest, heavyRows, SRC, sleep } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const clusterEnv = (extra: Record<string, string> = {}) => ({ INFERCACHE_REDIS_MODE: 'cluster', ...extra });
// A reader with no L1 room for predictions: every lookup goes to the cluster.
const NO_L1 = { INFERCACHE_L1_SHARES: 'p=0,f=0.5,e=0.5' };

/** Waits until `sidecar` is connected to every master of `cluster`. */
async function connectedToAll(sidecar: Sidecar, cluster: RedisCluster): Promise<void> {
  const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
  await eventually('a connection to every master', async () => {
    const body = await sidecar.metrics();
    const up = masters.filter(
      (n) => metricValue(body, 'infercache_redis_node_connected', { node: `127.0.0.1:${n.port}` }) === 1,
    );
    return up.length === masters.length ? true : undefined;
  });
}

/** Every key under `prefix` on each master, by port. */
async function keysByMaster(cluster: RedisCluster, prefix: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const node of await cluster.nodes()) {
    if (node.role !== 'master' || node.pid === undefined) continue;
    out.set(node.port, ((await redisCommand(node.port, ['KEYS', `${prefix}:*`])) as string[]) ?? []);
  }
  return out;
}

/** Computes `rows` one request each through `writer`, and says which master holds each row's key. */
async function placeRows(cluster: RedisCluster, writer: Sidecar, rows: Float32Array[]): Promise<number[]> {
  // A write made before the writer reaches a node is dropped (and counted), not queued.
  await connectedToAll(writer, cluster);
  const owners: number[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    await writer.client.predict(heavyRequest(row));
    const key = await eventually('the row to reach the cluster', async () => {
      for (const [port, keys] of await keysByMaster(cluster, writer.keyPrefix)) {
        const fresh = keys.find((k) => !seen.has(k));
        if (fresh !== undefined) return [port, fresh] as const;
      }
      return undefined;
    });
    seen.add(key[1]);
    owners.push(key[0]);
  }
  return owners;
}

const oneRow = (n: number) => Array.from({ length: n }, () => heavyRows(1));

describe('a fleet on a Redis Cluster', () => {
  afterAll(stopAllSidecars);

  describe('with three masters', () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    });
    afterAll(() => cluster.stop());

    it('shares rows between two sidecar processes, reading a batch with one round trip per node', async () => {
      const a = await startSidecar({ redisUrl: cluster.seedUrls, env: clusterEnv() });
      const b = await startSidecar({ redisUrl: cluster.seedUrls, keyPrefix: a.keyPrefix, env: clusterEnv() });
      await connectedToAll(a, cluster);
      await connectedToAll(b, cluster);
      const rows = heavyRows(300);
      expect((await a.client.predict(heavyRequest(rows))).row_sources).toEqual(
        new Array(300).fill(SRC.MODEL),
      );
      const spread = await eventually('all 300 rows in the cluster', async () => {
        const byMaster = await keysByMaster(cluster, a.keyPrefix);
        const total = [...byMaster.values()].reduce((n, k) => n + k.length, 0);
        return total === 300 ? byMaster : undefined;
      });
      // The keys spread over every master (the hash tag is two hex digits, not one slot).
      for (const keys of spread.values()) expect(keys.length).toBeGreaterThan(30);

      const mgets = async () =>
        metricValue(await b.metrics(), 'infercache_redis_operation_duration_seconds_count', { op: 'mget' }) ??
        0;
      const before = await mgets();
      const answer = await b.client.predict(heavyRequest(rows));
      expect(answer.row_sources).toEqual(new Array(300).fill(SRC.L2));
      expect(await mgets()).toBe(before + 3);
    });

    it('follows a slot moved to another node (MOVED): the moved row still comes from L2', async () => {
      const writer = await startSidecar({ redisUrl: cluster.seedUrls, env: clusterEnv() });
      const reader = await startSidecar({
        redisUrl: cluster.seedUrls,
        keyPrefix: writer.keyPrefix,
        env: clusterEnv(NO_L1),
      });
      const rows = oneRow(1);
      const owners = await placeRows(cluster, writer, rows);
      await connectedToAll(reader, cluster);
      const from = owners[0] as number;
      const [key] = (await keysByMaster(cluster, writer.keyPrefix)).get(from) as string[];
      expect((await reader.client.predict(heavyRequest(rows[0] as Float32Array))).row_sources).toEqual([
        SRC.L2,
      ]);

      // Move the key's slot to another master, as a resharding does.
      const nodes = await cluster.nodes();
      const source = nodes.find((n) => n.port === from) as { id: string };
      const target = nodes.find((n) => n.role === 'master' && n.port !== from) as {
        id: string;
        port: number;
      };
      const slot = String(await redisCommand(from, ['CLUSTER', 'KEYSLOT', key as string]));
      await redisCommand(target.port, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id]);
      await redisCommand(from, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id]);
      // Every key of the slot moves (other tests' keys may share its hash tag).
      const inSlot = (await redisCommand(from, ['CLUSTER', 'GETKEYSINSLOT', slot, '10000'])) as string[];
      await redisCommand(from, [
        'MIGRATE',
        '127.0.0.1',
        String(target.port),
        '',
        '0',
        '5000',
        'KEYS',
        ...inSlot,
      ]);
      for (const n of nodes.filter((m) => m.role === 'master')) {
        await redisCommand(n.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', target.id]);
      }
      expect((await reader.client.predict(heavyRequest(rows[0] as Float32Array))).row_sources).toEqual([
        SRC.L2,
      ]);
      expect(await cluster.masterForKey(key as string)).toBe(target.port);
    });

    it('when one node stalls, misses only the keys it owns while the others keep hitting', async () => {
      // Long node timeout: the stalled master must not be failed over here.
      const slow = await startRedisCluster({ masters: 3, nodeTimeoutMs: 30_000 });
      try {
        const writer = await startSidecar({ redisUrl: slow.seedUrls, env: clusterEnv() });
        const reader = await startSidecar({
          redisUrl: slow.seedUrls,
          keyPrefix: writer.keyPrefix,
          // Short enough that the stalled node's calls end quickly, long enough that
          // a healthy node on a loaded 2-core machine never times out.
          env: clusterEnv({ ...NO_L1, INFERCACHE_L2_TIMEOUT_MS: '500' }),
        });
        const rows = oneRow(24);
        const owners = await placeRows(slow, writer, rows);
        await connectedToAll(reader, slow);
        const stalled = owners[0] as number;
        await slow.pauseNode(stalled);
        try {
          // Calls started 60 ms apart, overlapping: the circuit judges the last
          // second and wants 5 calls, and reads started together share one
          // MGET per node (cache/read_coalescer.ts), so each call starts alone.
          for (let round = 0; round < 3; round++) {
            const answers = await Promise.all(
              Array.from({ length: 6 }, async (_, i) => {
                await sleep(60 * i);
                return reader.client.predict(heavyRequest(concat(rows)));
              }),
            );
            for (const answer of answers) {
              answer.row_sources.forEach((source, i) => {
                expect(source, `row ${i} on port ${owners[i]}`).toBe(
                  owners[i] === stalled ? SRC.MODEL : SRC.L2,
                );
              });
            }
          }
          const body = await reader.metrics();
          expect(
            metricValue(body, 'infercache_redis_circuit_open', {
              node: `127.0.0.1:${stalled}`,
              direction: 'read',
            }),
          ).toBe(1);
          for (const port of new Set(owners.filter((p) => p !== stalled))) {
            expect(
              metricValue(body, 'infercache_redis_circuit_open', {
                node: `127.0.0.1:${port}`,
                direction: 'read',
              }),
            ).toBe(0);
          }
        } finally {
          await slow.resumeNode(stalled);
        }
      } finally {
        await slow.stop();
      }
    });
  });

  it('answers every call while a master is killed under load; its keys miss until its replica is promoted', {
    timeout: 120_000,
  }, async () => {
    // With Redis's default (full coverage required) every node refuses every
    // key for the second a master is down; a cache wants the others to serve.
    const cluster = await startRedisCluster({
      masters: 3,
      replicasPerMaster: 1,
      nodeTimeoutMs: 1000,
      args: ['--cluster-require-full-coverage', 'no'],
    });
    try {
      const writer = await startSidecar({ redisUrl: cluster.seedUrls, env: clusterEnv() });
      const reader = await startSidecar({
        redisUrl: cluster.seedUrls,
        keyPrefix: writer.keyPrefix,
        env: clusterEnv({ ...NO_L1, INFERCACHE_L2_TIMEOUT_MS: '200', INFERCACHE_L2_BREAKER_RESET_MS: '200' }),
      });
      const rows = oneRow(18);
      const owners = await placeRows(cluster, writer, rows);
      await connectedToAll(reader, cluster);
      const victim = owners[0] as number;
      const batch = concat(rows);
      // Replicas copy asynchronously: wait until each has every key.
      await sleep(500);

      let failed = 0;
      let calls = 0;
      const missedRows = new Set<number>();
      let stop = false;
      const load = (async () => {
        while (!stop) {
          calls++;
          try {
            const answer = await reader.client.predict(heavyRequest(batch), { deadlineMs: 10_000 });
            answer.row_sources.forEach((s, i) => {
              if (s === SRC.MODEL) missedRows.add(i);
            });
          } catch {
            failed++;
          }
          await sleep(20);
        }
      })();
      await sleep(300);
      await cluster.killNode(victim);
      await cluster.waitForFailover(victim, 30_000);
      // Served from the promoted replica again, for every row.
      await eventually(
        'every row from L2 again',
        async () => {
          const answer = await reader.client.predict(heavyRequest(batch));
          return answer.row_sources.every((s) => s === SRC.L2) ? true : undefined;
        },
        30_000,
      );
      stop = true;
      await load;
      expect(failed).toBe(0);
      expect(calls).toBeGreaterThan(10);
      // Only the dead master's rows were ever computed again.
      for (const i of missedRows) expect(owners[i], `row ${i}`).toBe(victim);
      expect(missedRows.size).toBeGreaterThan(0);
      const body = await reader.metrics();
      expect(metricValue(body, 'infercache_redis_node_connected', { node: `127.0.0.1:${victim}` })).toBe(0);
      const failures = ['unavailable', 'timeout', 'circuit_open', 'error'].map(
        (reason) => metricValue(body, 'infercache_redis_errors_total', { op: 'mget', reason }) ?? 0,
      );
      expect(failures.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
    }
  });
});

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.length * HEAVY_IN);
  rows.forEach((r, i) => {
    out.set(r, i * HEAVY_IN);
  });
  return out;
}
