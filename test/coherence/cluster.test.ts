import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FS, freshIds } from '../helpers/features.js';
import { type RedisCluster, startRedisCluster } from '../helpers/redis_cluster.js';
import { redisCommand, redisText } from '../helpers/redis_command.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import {
  changesApplied,
  cli,
  type FleetFiles,
  fleetFiles,
  invalidate,
  predictSources,
  putLevels,
  readLevels,
  startMember,
} from './fleet.js';

const CLUSTER = { INFERCACHE_REDIS_MODE: 'cluster' };

describe('fleet coherence on a Redis Cluster with three masters', () => {
  const prefix = `clu-${randomBytes(4).toString('hex')}`;
  let cluster: RedisCluster;
  let files: FleetFiles;
  /** Tracks feature keys. */
  let a: Sidecar;
  /** Tracking off: they learn of changes over the bus only. */
  let others: Sidecar[];

  beforeAll(async () => {
    [cluster, files] = await Promise.all([startRedisCluster({ masters: 3 }), fleetFiles()]);
    const off = { ...CLUSTER, INFERCACHE_CLIENT_TRACKING: 'off' };
    const fleet = await Promise.all([
      startMember(cluster.seedUrls, prefix, files, CLUSTER),
      startMember(cluster.seedUrls, prefix, files, off),
      startMember(cluster.seedUrls, prefix, files, off),
    ]);
    [a, ...others] = fleet as [Sidecar, ...Sidecar[]];
  });
  afterAll(async () => {
    await stopAllSidecars();
    await cluster?.stop();
  });

  it('tracks on every master, and changes through the bus or straight into the cluster reach every L1', async () => {
    const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
    expect(masters.length).toBe(3);
    // Tracking is per node: the tracking sidecar armed it on each master.
    for (const m of masters) {
      await eventually(`tracking on port ${m.port}`, async () => {
        const list = await redisText(m.port, ['CLIENT', 'LIST']);
        return /flags=\S*t\S*B|flags=\S*B\S*t/.test(list) ? true : undefined;
      });
    }

    // Enough entities that their keys land on every master.
    const ids = freshIds(24, 'clu');
    const fleet = [a, ...others];
    await putLevels(
      a,
      ids,
      ids.map(() => 1),
      Date.now() - 60_000,
    );
    const holders = await Promise.all(
      masters.map(async (m) => ((await redisCommand(m.port, ['KEYS', `${prefix}:f:*`])) as string[]).length),
    );
    for (const count of holders) expect(count).toBeGreaterThan(0);
    const rows = irisRows(2);
    for (const s of fleet) {
      await eventually('the rows in L1', async () => {
        const features = (await readLevels(s, ids)).sources.every((x) => x === FS.L1);
        const predictions = (await predictSources(s, rows)).every((x) => x === SRC.L1);
        return features && predictions ? true : undefined;
      });
    }

    // Over the bus: a write and an invalidation through one sidecar.
    const seen = await Promise.all(others.map((s) => changesApplied(s, 'generation')));
    await putLevels(
      a,
      ids,
      ids.map(() => 2),
    );
    await invalidate(a, { model: { model: 'iris', version: '' } });
    for (const [i, s] of others.entries()) {
      await eventually('the new rows', async () =>
        (await readLevels(s, ids)).levels.every((l) => l === 2) ? true : undefined,
      );
      await eventually('the invalidation', async () =>
        (await changesApplied(s, 'generation')) > (seen[i] as number) ? true : undefined,
      );
      expect((await predictSources(s, rows)).some((x) => x === SRC.L1)).toBe(false);
    }

    // Straight into the cluster: every master reports its own keys.
    await eventually('the rows in L1', async () =>
      (await readLevels(a, ids)).sources.every((x) => x === FS.L1) ? true : undefined,
    );
    const csv = ['user_id,level,event_time_ms', ...ids.map((id) => `${id},3,${Date.now()}`)].join('\n');
    const load = await cli(
      ['features', 'load', 'users', files.file('cluster.csv', csv), '--redis-url', cluster.seedUrls],
      { ...CLUSTER, INFERCACHE_FEATURE_VIEWS: files.views, INFERCACHE_KEY_PREFIX: prefix },
    );
    expect(load.code, load.stderr).toBe(0);
    await eventually('the loaded rows', async () =>
      (await readLevels(a, ids)).levels.every((l) => l === 3) ? true : undefined,
    );
  });
});
