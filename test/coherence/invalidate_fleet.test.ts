import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildFlowerEmbeddingModel } from '../../src/model/zoo/flower_embedding.js';
import { FS, freshIds, ST, stringIds } from '../helpers/features.js';
import { infoFields, redisCommand, redisText } from '../helpers/redis_command.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, f32Tensor, IRIS_FEATURES, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import {
  changesApplied,
  type FleetFiles,
  fleetFiles,
  invalidate,
  metric,
  predictSources,
  putLevels,
  readLevels,
  startMember,
  USER,
} from './fleet.js';

// Client tracking is off in this fleet: every L1 drop seen here travels over
// the bus, not as a Redis report of a changed key.
const BUS_ONLY = { INFERCACHE_CLIENT_TRACKING: 'off' };

describe('Invalidate reaches every sidecar of a fleet', () => {
  const prefix = `inv-${randomBytes(4).toString('hex')}`;
  let redis: RedisServer;
  let files: FleetFiles;
  let fleet: Sidecar[];
  let a: Sidecar;

  beforeAll(async () => {
    // A private server: its command statistics are this fleet's alone.
    [redis, files] = await Promise.all([startRedis(), fleetFiles()]);
    await writeModel(files.models, 'flower_embedding', 1, buildFlowerEmbeddingModel());
    fleet = await Promise.all([0, 1, 2].map(() => startMember(redis.url, prefix, files, BUS_ONLY)));
    a = fleet[0] as Sidecar;
  });
  afterAll(async () => {
    await stopAllSidecars();
    await redis?.stop();
  });

  const keysUnder = async (pattern: string) =>
    ((await redisCommand(redis.port, ['KEYS', `${prefix}:${pattern}`])) as string[]).sort();
  const generation = (scope: string) => redisCommand(redis.port, ['HGET', `${prefix}:generations`, scope]);
  /** Commands the server ran since the last CONFIG RESETSTAT, by name. */
  const commandsRun = async () => {
    const stats = infoFields(await redisText(redis.port, ['INFO', 'commandstats']));
    return new Set([...stats.keys()].map((k) => k.replace(/^cmdstat_/, '')));
  };

  /** Predicts `rows` with `version` on every sidecar until each holds them in its L1. */
  async function cacheEverywhere(rows: number[][], version: string): Promise<void> {
    await predictSources(a, rows, version);
    for (const s of fleet) {
      await eventually('the rows in L1', async () => {
        const sources = await predictSources(s, rows, version);
        return sources.every((x) => x === SRC.L1) ? true : undefined;
      });
    }
  }

  it('of a model: every sidecar stops serving its rows of every version from L1, and no key is scanned or deleted', async () => {
    const rows = irisRows(3);
    await cacheEverywhere(rows, '1');
    await cacheEverywhere(rows, '2');
    const before = await keysUnder('p:iris:*');
    expect(before.length).toBe(6);
    const seen = await Promise.all(fleet.map((s) => changesApplied(s, 'generation')));

    await redisCommand(redis.port, ['CONFIG', 'RESETSTAT']);
    const reply = await invalidate(a, { model: { model: 'iris', version: '' } });
    expect(reply).toMatchObject({ scope: 'p:iris', keys_deleted: 0 });
    expect(await generation('p:iris')).toBe(reply.generation);

    for (const [i, s] of fleet.entries()) {
      if (s !== a) {
        await eventually('the change to arrive', async () =>
          (await changesApplied(s, 'generation')) > (seen[i] as number) ? true : undefined,
        );
      }
      // Dropped, not merely unreachable: the entries no longer take room.
      expect(await metric(s, 'infercache_l1_entries', { kind: 'p' })).toBe(0);
      for (const version of ['1', '2']) {
        const sources = await predictSources(s, rows, version);
        expect(sources.some((x) => x === SRC.L1)).toBe(false);
      }
    }
    // Read before this test's own KEYS below shows up in them.
    const ran = await commandsRun();
    for (const command of ['scan', 'keys', 'del', 'unlink']) expect(ran.has(command), command).toBe(false);
    // The old rows are still in Redis, under keys nobody asks for any more.
    const after = await keysUnder('p:iris:*');
    for (const key of before) expect(after).toContain(key);
    const renewed = after.filter((k) => !before.includes(k));
    expect(renewed.length).toBe(6);
    for (const key of renewed) expect(key).toContain(`:g${reply.generation}.0:`);
  });

  it('of one model version: every sidecar drops that version from L1 and keeps the others', async () => {
    const rows = irisRows(2);
    await cacheEverywhere(rows, '1');
    await cacheEverywhere(rows, '2');
    const seen = await Promise.all(fleet.map((s) => changesApplied(s, 'generation')));

    const reply = await invalidate(a, { model: { model: 'iris', version: '1' } });
    expect(reply.scope).toBe('p:iris@1');
    expect(await generation('p:iris@1')).toBe(reply.generation);

    for (const [i, s] of fleet.entries()) {
      if (s !== a) {
        await eventually('the change to arrive', async () =>
          (await changesApplied(s, 'generation')) > (seen[i] as number) ? true : undefined,
        );
      }
      expect(await predictSources(s, rows, '2')).toEqual([SRC.L1, SRC.L1]);
      expect((await predictSources(s, rows, '1')).some((x) => x === SRC.L1)).toBe(false);
    }
  });

  it('of an embedding model: every sidecar drops its vectors, raw and normalised, and none is read again', async () => {
    const rows = irisRows(3);
    /** Where each row of `flower_embedding`'s vectors came from on `s`. */
    const embedSources = async (s: Sidecar, normalize: boolean) =>
      (
        await s.client.unary<{ row_sources: number[] }>('GetEmbeddings', {
          model: 'flower_embedding',
          inputs: { features: f32Tensor([rows.length, IRIS_FEATURES], rows.flat()) },
          normalize,
        })
      ).row_sources;
    for (const normalize of [false, true]) {
      await embedSources(a, normalize);
      for (const s of fleet) {
        await eventually('the vectors in L1', async () =>
          (await embedSources(s, normalize)).every((x) => x === SRC.L1) ? true : undefined,
        );
      }
    }
    const seen = await Promise.all(fleet.map((s) => changesApplied(s, 'generation')));

    // The model's scope covers what it computes as an embedding model too.
    const reply = await invalidate(a, { model: { model: 'flower_embedding', version: '' } });
    expect(reply).toMatchObject({ scope: 'p:flower_embedding', keys_deleted: 0 });
    for (const [i, s] of fleet.entries()) {
      if (s !== a) {
        await eventually('the change to arrive', async () =>
          (await changesApplied(s, 'generation')) > (seen[i] as number) ? true : undefined,
        );
      }
      // Dropped, not merely unreachable.
      expect(await metric(s, 'infercache_l1_entries', { kind: 'e' })).toBe(0);
    }
    // The first read anywhere computes them again: the old vectors' keys in
    // Redis are not the ones asked for any more. Then no sidecar serves an
    // old vector from its L1.
    expect(await embedSources(a, false)).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(await embedSources(a, true)).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    for (const s of fleet.slice(1)) {
      for (const normalize of [false, true]) {
        expect((await embedSources(s, normalize)).some((x) => x === SRC.L1)).toBe(false);
      }
    }
  });

  it('of view entities: their rows are deleted from Redis and every sidecar drops its copy', async () => {
    const [gone, kept] = freshIds(2, 'inv') as [string, string];
    await putLevels(a, [gone, kept], [7, 8]);
    for (const s of fleet) {
      await eventually('the rows in L1', async () => {
        const { sources } = await readLevels(s, [gone, kept]);
        return sources.every((x) => x === FS.L1) ? true : undefined;
      });
    }

    const reply = await invalidate(a, { view: { view: 'users', entities: stringIds(USER, [gone]) } });
    expect(reply).toEqual({ scope: '', generation: '0', keys_deleted: 1 });

    // The sidecar that answered never serves the old row again.
    expect((await readLevels(a, [gone])).statuses).toEqual([ST.NOT_FOUND]);
    for (const s of fleet) {
      await eventually('the row to be gone from L1', async () => {
        const { statuses } = await readLevels(s, [gone]);
        return statuses[0] === ST.NOT_FOUND ? true : undefined;
      });
      expect(await readLevels(s, [kept])).toMatchObject({ levels: [8], sources: [FS.L1] });
    }
  });

  it('of a whole view: its generation moves on, every sidecar drops its rows, and the old keys stay unread', async () => {
    const ids = freshIds(2, 'view');
    await putLevels(a, ids, [1, 2]);
    for (const s of fleet) {
      await eventually('the rows in L1', async () => {
        const { sources } = await readLevels(s, ids);
        return sources.every((x) => x === FS.L1) ? true : undefined;
      });
    }
    const before = await keysUnder('f:users:*');

    await redisCommand(redis.port, ['CONFIG', 'RESETSTAT']);
    const reply = await invalidate(a, { view: { view: 'users' } });
    expect(reply).toMatchObject({ scope: 'f:users', keys_deleted: 0 });
    expect(await generation('f:users')).toBe(reply.generation);

    expect((await readLevels(a, ids)).statuses).toEqual([ST.NOT_FOUND, ST.NOT_FOUND]);
    for (const s of fleet) {
      await eventually('the rows to be gone from L1', async () => {
        const { statuses } = await readLevels(s, ids);
        return statuses.every((x) => x === ST.NOT_FOUND) ? true : undefined;
      });
    }
    const ran = await commandsRun();
    for (const command of ['scan', 'keys', 'del', 'unlink']) expect(ran.has(command), command).toBe(false);
    // Still in Redis, never read again.
    const after = await keysUnder('f:users:*');
    for (const key of before) expect(after).toContain(key);
  });

  it('PutFeatures on one sidecar drops the old row from every other L1, and each measures the lag', async () => {
    const [id] = freshIds(1, 'put') as [string];
    const t = Date.now() - 1000;
    await putLevels(a, [id], [1], t);
    for (const s of fleet) {
      await eventually('the row in L1', async () => {
        const read = await readLevels(s, [id]);
        return read.sources[0] === FS.L1 && read.levels[0] === 1 ? true : undefined;
      });
    }
    const lags = await Promise.all(
      fleet.map((s) => metric(s, 'infercache_coherence_invalidation_lag_seconds_count')),
    );

    await putLevels(a, [id], [2], t + 1);
    expect((await readLevels(a, [id])).levels).toEqual([2]);
    for (const [i, s] of fleet.entries()) {
      await eventually('the new level', async () =>
        (await readLevels(s, [id])).levels[0] === 2 ? true : undefined,
      );
      if (s === a) continue;
      // Observed once per change that arrived over pub/sub.
      expect(await metric(s, 'infercache_coherence_invalidation_lag_seconds_count')).toBeGreaterThan(
        lags[i] as number,
      );
      const sum = await metric(s, 'infercache_coherence_invalidation_lag_seconds_sum');
      expect(sum).toBeGreaterThanOrEqual(0);
    }
    // The fleet started before its bus log existed, and never fell behind it:
    // nobody had reason to drop its whole L1.
    for (const s of fleet) {
      expect(await metric(s, 'infercache_coherence_catch_ups_total', { result: 'log_trimmed' })).toBe(0);
    }
  });
});
