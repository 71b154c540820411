import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import {
  emptyModelsDir,
  inconsistentRows,
  installVersion,
  modelIn,
  scaleModel,
  scaleRequest,
} from '../helpers/model_versions.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// Generous: scans, loads and Redis writes share a loaded 2-core machine.
const WAIT_MS = 60_000;

const request = (model: string, rows: number[][]) => scaleRequest(model, rows);

describe('a request pins the version it started with', { timeout: 240_000 }, () => {
  let redis: RedisServer;
  let reader: Redis;
  let dir: string;
  let sidecar: Sidecar;

  beforeAll(async () => {
    // A private server: the first test pauses it.
    redis = await startRedis();
    reader = redisClient(redis.url);
    dir = emptyModelsDir();
    await installVersion(dir, 'scale', '1', scaleModel(1));
    await installVersion(dir, 'roll', '1', scaleModel(1));
    sidecar = await startSidecar({
      redisUrl: redis.url,
      modelsDir: dir,
      env: {
        INFERCACHE_MODELS_POLL_MS: '200',
        // A request held by the paused server must wait for it, not time out.
        INFERCACHE_L2_TIMEOUT_MS: '60000',
      },
    });
    await sidecar.waitForLog((l) => l.msg === 'L2 connected', WAIT_MS);
  });
  afterAll(async () => {
    await stopAllSidecars();
    reader?.disconnect();
    await redis?.stop();
  });

  const keysOf = async (model: string, version: string) =>
    (await keysUnder(reader, sidecar.keyPrefix)).filter((k) =>
      k.startsWith(`${sidecar.keyPrefix}:p:${model}:${version}:`),
    );
  const waitForKeys = (model: string, version: string, count: number) =>
    eventually(
      `${count} keys of ${model} ${version}`,
      async () => ((await keysOf(model, version)).length >= count ? true : undefined),
      WAIT_MS,
    );
  const l1Misses = async () =>
    metricValue(await sidecar.metrics(), 'infercache_cache_lookups_total', {
      kind: 'p',
      tier: 'l1',
      result: 'miss',
    }) ?? 0;
  const becomesCurrent = (model: string, version: string) =>
    eventually(
      `${model} ${version} to become current`,
      async () =>
        modelIn(await sidecar.client.listModels(), model).current_version === version ? true : undefined,
      WAIT_MS,
    );

  it('a request in flight across a switch answers, and writes, under its own version only', async () => {
    const cached = irisRows(2);
    await sidecar.client.predict(request('scale', cached));
    await waitForKeys('scale', '1', 2);
    const fresh = irisRows(3);
    const missesBefore = await l1Misses();

    // The paused server holds the request in its L2 read, after its version was taken.
    await redis.pause();
    let settled = false;
    const pending = sidecar.client.predict(request('scale', [...cached, ...fresh]), { deadlineMs: 120_000 });
    void pending.finally(() => {
      settled = true;
    });
    await eventually(
      'the request to look up its rows',
      async () => ((await l1Misses()) - missesBefore >= fresh.length ? true : undefined),
      WAIT_MS,
    );

    await installVersion(dir, 'scale', '2', scaleModel(2));
    await becomesCurrent('scale', '2');
    // What this test is about: the switch happened while the request was in flight.
    expect(settled).toBe(false);
    await redis.resume();

    const res = await pending;
    expect(res.version).toBe('1');
    expect(res.row_sources).toEqual([SRC.L1, SRC.L1, SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(inconsistentRows(res, [...cached, ...fresh])).toEqual([]);
    await waitForKeys('scale', '1', cached.length + fresh.length);
    expect(await keysOf('scale', '2')).toEqual([]);

    // The next request is version 2's: nothing version 1 computed is served for it.
    const next = await sidecar.client.predict(request('scale', fresh));
    expect(next.version).toBe('2');
    expect(next.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(inconsistentRows(next, fresh)).toEqual([]);
    await waitForKeys('scale', '2', fresh.length);
  });

  it('under continuous load while versions roll, no call fails and every answer matches its version', async () => {
    // Half of each batch repeats rows seen before (cached by some version), half is new.
    const shared = irisRows(200);
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let rolling = true;
    const client = async () => {
      while (rolling) {
        const rows = [...shared, ...irisRows(200)];
        try {
          const res = await sidecar.client.predict(request('roll', rows));
          const bad = inconsistentRows(res, rows);
          if (bad.length > 0) failures.push(`version ${res.version}: rows ${bad.slice(0, 5)} do not match`);
          seen.set(res.version, (seen.get(res.version) ?? 0) + 1);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const clients = [client(), client(), client()];
    await eventually('answers from version 1', async () => (seen.has('1') ? true : undefined), WAIT_MS);
    for (const version of ['2', '3']) {
      await installVersion(dir, 'roll', version, scaleModel(Number(version)));
      await becomesCurrent('roll', version);
      const before = seen.get(version) ?? 0;
      await eventually(
        `answers from version ${version}`,
        async () => ((seen.get(version) ?? 0) > before ? true : undefined),
        WAIT_MS,
      );
    }
    rolling = false;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect([...seen.keys()].sort()).toEqual(['1', '2', '3']);
  });
});
