import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FS, freshIds, ST } from '../helpers/features.js';
import { redisCli, redisCommand, redisText } from '../helpers/redis_command.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';
import {
  cli,
  type FleetFiles,
  fleetFiles,
  metric,
  metricReaches,
  predictSources,
  putLevels,
  readLevels,
  startMember,
  usersRowFrame,
} from './fleet.js';

/** One CLIENT LIST line as fields (id, flags, redir, ...). */
type ClientInfo = Map<string, string>;

function clients(text: string): ClientInfo[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(
      (line) =>
        new Map(
          line
            .trim()
            .split(' ')
            .map((f) => f.split('=', 2) as [string, string]),
        ),
    );
}

describe('writes that bypass the sidecar reach L1 through Redis client tracking', () => {
  const prefix = `trk-${randomBytes(4).toString('hex')}`;
  let redis: RedisServer;
  let files: FleetFiles;
  /** Tracking on, the default. */
  let tracked: Sidecar;
  /** INFERCACHE_CLIENT_TRACKING=off: feature rows stale by at most their L1 TTL. */
  let untracked: Sidecar;

  beforeAll(async () => {
    [redis, files] = await Promise.all([startRedis(), fleetFiles()]);
    [tracked, untracked] = await Promise.all([
      startMember(redis.url, prefix, files),
      startMember(redis.url, prefix, files, { INFERCACHE_CLIENT_TRACKING: 'off' }),
    ]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await redis?.stop();
  });

  /** The connections that asked for tracking: flag t, broadcasting (B). */
  const trackingClients = async () =>
    clients(await redisText(redis.port, ['CLIENT', 'LIST'])).filter((c) => {
      const flags = c.get('flags') ?? '';
      return flags.includes('t') && flags.includes('B');
    });

  /** Reads `ids` on `s` until every row is an L1 hit with `level`. */
  const inL1 = (s: Sidecar, ids: string[], level: number) =>
    eventually('the rows in L1', async () => {
      const read = await readLevels(s, ids);
      return read.sources.every((x) => x === FS.L1) && read.levels.every((l) => l === level)
        ? true
        : undefined;
    });

  it('arms one broadcast tracking connection, redirected to itself, and says which mode is active', async () => {
    const armed = await trackingClients();
    expect(armed.length).toBe(1);
    expect(armed[0]?.get('redir')).toBe(armed[0]?.get('id'));
    expect(await metric(tracked, 'infercache_coherence_tracking_mode', { mode: 'bcast' })).toBe(1);
    expect(await metric(untracked, 'infercache_coherence_tracking_mode', { mode: 'off' })).toBe(1);
    expect(await metric(untracked, 'infercache_coherence_tracking_mode', { mode: 'bcast' })).toBe(0);
  });

  const featureKeys = async () =>
    new Set((await redisCommand(redis.port, ['KEYS', `${prefix}:f:users:*`])) as string[]);

  it('a bulk load straight into Redis and a DEL with redis-cli drop the rows from L1; without tracking they stay', async () => {
    const [loaded, deleted] = freshIds(2, 'ext') as [string, string];
    const t = Date.now() - 60_000;
    const earlier = await featureKeys();
    // PutFeatures answers once Redis holds the row.
    await putLevels(tracked, [deleted], [1], t);
    const [deletedKey] = [...(await featureKeys())].filter((k) => !earlier.has(k));
    await putLevels(tracked, [loaded], [1], t);
    await inL1(tracked, [loaded, deleted], 1);
    await inL1(untracked, [loaded, deleted], 1);
    const reported = await metric(tracked, 'infercache_coherence_tracked_keys_total');

    const file = files.file('rows.csv', `user_id,level,event_time_ms\n${loaded},2,${Date.now()}\n`);
    const env = { INFERCACHE_FEATURE_VIEWS: files.views, INFERCACHE_KEY_PREFIX: prefix };
    const load = await cli(['features', 'load', 'users', file, '--redis-url', redis.url], env);
    expect(load.stderr).toBe('');
    expect(load.code).toBe(0);
    await eventually('the loaded row', async () =>
      (await readLevels(tracked, [loaded])).levels[0] === 2 ? true : undefined,
    );
    expect(await metric(tracked, 'infercache_coherence_tracked_keys_total')).toBeGreaterThan(reported);

    expect(await redisCli(redis.port, ['DEL', deletedKey as string])).toBe('1');
    await eventually('the deleted row gone', async () =>
      (await readLevels(tracked, [deleted])).statuses[0] === ST.NOT_FOUND ? true : undefined,
    );
    // Nobody told the sidecar without tracking: its copies live out their L1 TTL.
    expect(await readLevels(untracked, [loaded, deleted])).toMatchObject({
      levels: [1, 1],
      sources: [FS.L1, FS.L1],
    });
  });

  it('a row SET with redis-cli replaces the L1 copy of the tracked sidecar; without tracking the old copy stays', async () => {
    const [id] = freshIds(1, 'cli') as [string];
    const earlier = await featureKeys();
    await putLevels(tracked, [id], [1], Date.now() - 60_000);
    const [key] = [...(await featureKeys())].filter((k) => !earlier.has(k)) as [string];
    await inL1(tracked, [id], 1);
    await inL1(untracked, [id], 1);

    // The frame on stdin (-x makes it the last argument, byte for byte).
    const frame = await usersRowFrame(files, key, 7, Date.now());
    expect(await redisCli(redis.port, ['-x', 'SETEX', key, '3600'], frame)).toBe('OK');
    await eventually('the row set with redis-cli', async () =>
      (await readLevels(tracked, [id])).levels[0] === 7 ? true : undefined,
    );
    expect(await readLevels(untracked, [id])).toMatchObject({ levels: [1], sources: [FS.L1] });
    // The frame was taken as it is, not refused as foreign bytes.
    expect(await metric(tracked, 'infercache_cache_rejected_values_total', { kind: 'f' })).toBe(0);
  });

  it('a killed tracking connection is re-armed, and the tracked rows leave L1 (changes meanwhile were not reported)', async () => {
    const [id] = freshIds(1, 'kill') as [string];
    const rows = irisRows(2);
    await putLevels(tracked, [id], [4], Date.now() - 60_000);
    await inL1(tracked, [id], 4);
    await predictSources(tracked, rows);
    expect(await predictSources(tracked, rows)).toEqual([SRC.L1, SRC.L1]);
    const [before] = await trackingClients();
    const killed = before?.get('id') as string;

    expect(await redisCommand(redis.port, ['CLIENT', 'KILL', 'ID', killed])).toBe('1');
    const [after] = await eventually('tracking armed again', async () => {
      const armed = await trackingClients();
      return armed.length === 1 && armed[0]?.get('id') !== killed ? armed : undefined;
    });
    expect(after?.get('redir')).toBe(after?.get('id'));
    await metricReaches(tracked, 'infercache_l1_entries', { kind: 'f' }, 0);
    expect(await readLevels(tracked, [id])).toMatchObject({ levels: [4], sources: [FS.L2] });
    // Only the tracked kind: predictions are not written by anyone but the fleet.
    expect(await predictSources(tracked, rows)).toEqual([SRC.L1, SRC.L1]);
  });

  it('FLUSHDB drops every feature row from L1; predictions stay for their L1 TTL', async () => {
    const [id] = freshIds(1, 'flush') as [string];
    const rows = irisRows(2);
    await putLevels(tracked, [id], [9], Date.now() - 60_000);
    await inL1(tracked, [id], 9);
    await predictSources(tracked, rows);
    expect(await predictSources(tracked, rows)).toEqual([SRC.L1, SRC.L1]);

    await redisCommand(redis.port, ['FLUSHDB']);
    await metricReaches(tracked, 'infercache_l1_entries', { kind: 'f' }, 0);
    expect(await readLevels(tracked, [id])).toMatchObject({ statuses: [ST.NOT_FOUND], sources: [FS.NONE] });
    expect(await predictSources(tracked, rows)).toEqual([SRC.L1, SRC.L1]);
  });
});

describe('a Redis that refuses client tracking', () => {
  let redis: RedisServer;
  afterAll(async () => {
    await stopAllSidecars();
    await redis?.stop();
  });

  it('is reported in the metric and the log, and the sidecar serves on', async () => {
    // As some managed offerings do: CLIENT is not available to the sidecar.
    redis = await startRedis({
      args: ['--rename-command', 'CLIENT', `CLIENT-${randomBytes(4).toString('hex')}`],
    });
    const files = await fleetFiles();
    const s = await startSidecar({
      redisUrl: redis.url,
      modelsDir: files.models,
      env: { INFERCACHE_FEATURE_VIEWS: files.views },
    });
    await metricReaches(s, 'infercache_coherence_tracking_mode', { mode: 'refused' }, 1);
    expect(await metric(s, 'infercache_coherence_tracking_mode', { mode: 'bcast' })).toBe(0);
    await s.waitForLog((l) => l.level === 40 && String(l.msg).startsWith('Redis refused client tracking'));
    const rows = irisRows(1);
    expect(await predictSources(s, rows)).toEqual([SRC.MODEL]);
    const [id] = freshIds(1, 'refused') as [string];
    await putLevels(s, [id], [3]);
    expect((await readLevels(s, [id])).statuses).toEqual([ST.PRESENT]);
  });
});
