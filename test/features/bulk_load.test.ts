import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore, viewNamed } from '../../src/cli/feature_store.js';
import { loadConfig } from '../../src/config/load.js';
import { bulkLoad, type LoadOptions } from '../../src/features/bulk_load.js';
import { entityRows } from '../../src/features/entity_keys.js';
import { RedisRowSink } from '../../src/features/redis_row_sink.js';
import { formatOf } from '../../src/features/row_file.js';
import type { RowSink } from '../../src/features/write_queue.js';
import type { GetFeaturesResponse } from '../helpers/client.js';
import { featureFiles } from '../helpers/feature_files.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { startRedis } from '../helpers/redis_server.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// infercache.v1.FeatureStatus and FeatureSource.
const PRESENT = 1;
const NULL_VALUE = 2;
const NOT_FOUND = 3;
const OUTSIDE_MAX_AGE = 4;
const L2 = 2;

const files = featureFiles();
const prefix = `icload-${randomBytes(4).toString('hex')}`;
const HEADER = 'user_id,score,visits,active,city,embedding,event_time_ms';

/** Row i of a generated users file: values a test can recompute. */
function userLine(i: number, eventTime = ''): string {
  const vector =
    i % 3 === 0
      ? `"[${i}, ${i + 1}, ${i + 2}]"`
      : i % 3 === 1
        ? `${i} ${i + 1} ${i + 2}`
        : `${i};${i + 1};${i + 2}`;
  return `${i},${i / 8},${i * 1000},${i % 2 === 0},${i % 10 === 0 ? '' : `c${i % 7}`},${vector},${eventTime}`;
}

async function openLoader(redisUrl = sharedRedisUrl()) {
  const env = { INFERCACHE_FEATURE_VIEWS: files.views, INFERCACHE_KEY_PREFIX: prefix };
  const config = loadConfig({ redisUrl }, env);
  const view = await viewNamed(config, 'users');
  const store = await openFeatureStore(config, view, 5000);
  const sink = new RedisRowSink(view, store.reader, store.door);
  const load = (path: string, options: Partial<LoadOptions> = {}) =>
    bulkLoad(view, path, sink, {
      format: formatOf(path),
      batchSize: 100,
      inFlight: 3,
      eventTime: Date.now(),
      maxRejects: Number.POSITIVE_INFINITY,
      ...options,
    });
  return { view, store, load };
}

describe('bulk load into Redis', () => {
  let sidecar: Sidecar;
  let loader: Awaited<ReturnType<typeof openLoader>>;
  beforeAll(async () => {
    loader = await openLoader();
    sidecar = await startSidecar({
      redisUrl: sharedRedisUrl(),
      keyPrefix: prefix,
      env: { INFERCACHE_FEATURE_VIEWS: files.views },
    });
  });
  afterAll(async () => {
    await loader.store.close();
    await stopAllSidecars();
  });

  const get = (ids: number[]) =>
    sidecar.client.getFeatures({
      features: ['users'],
      entities: { columns: [{ name: 'user_id', int64_values: ids }] },
    });
  const column = (reply: GetFeaturesResponse, name: string) => {
    const c = reply.features.find((f) => f.name === `users:${name}`);
    if (c === undefined) throw new Error(`no column ${name}`);
    return c;
  };

  it('loads a few thousand rows, counts and names the bad ones, and the sidecars read the good ones', async () => {
    const old = Date.now() - 2 * 3600_000;
    const lines = [HEADER];
    const bad: string[] = [];
    for (let i = 1; i <= 3000; i++) {
      lines.push(userLine(i, i === 3000 ? String(old) : ''));
      const row = lines.length - 1;
      if (i === 100) lines.push('100,abc,100000,true,c2,1 2 3,');
      if (i === 500) lines.push(',62.5,500000,true,c3,1 2 3,');
      if (i === 1000) lines.push('1000,125,1000000,true,,1000 1001,');
      if (i === 2000) lines.push('2000,250,2000000,true,,1 2 3,yesterday');
      if (lines.length - 1 !== row) bad.push(`row ${lines.length - 1}`);
    }
    const started = Date.now();
    const summary = await loader.load(files.file('users.csv', `${lines.join('\n')}\n`), {
      eventTime: started,
    });

    expect(summary).toMatchObject({ rowsRead: 3004, written: 3000, skippedOlder: 0, rejected: 4 });
    expect(summary.failure).toBeUndefined();
    expect(summary.reasons).toEqual([
      `${bad[0]}: score: "abc" is not a number`,
      `${bad[1]}: no user_id`,
      `${bad[2]}: embedding: 2 values; the vector's dim is 3`,
      `${bad[3]}: event_time_ms: "yesterday" is not a time in ms since the Unix epoch`,
    ]);
    expect(await keysUnder(redisClient(sharedRedisUrl()), prefix)).toHaveLength(3000);

    const reply = await get([6, 7, 10, 3000, 999_999]);
    expect(column(reply, 'score').float32_values).toEqual([0.75, 0.875, 1.25, 375, 0]);
    expect(column(reply, 'visits').int64_values).toEqual(['6000', '7000', '10000', '3000000', '0']);
    expect(column(reply, 'active').bool_values).toEqual([true, false, true, true, false]);
    expect(column(reply, 'city').bytes_values.map(String)).toEqual(['c6', 'c0', '', '', '']);
    expect(column(reply, 'city').statuses).toEqual([
      PRESENT,
      PRESENT,
      NULL_VALUE,
      OUTSIDE_MAX_AGE,
      NOT_FOUND,
    ]);
    expect(column(reply, 'score').statuses).toEqual([PRESENT, PRESENT, PRESENT, OUTSIDE_MAX_AGE, NOT_FOUND]);
    expect(column(reply, 'embedding').float32_values).toEqual([
      6, 7, 8, 7, 8, 9, 10, 11, 12, 3000, 3001, 3002, 0, 0, 0,
    ]);
    expect(reply.views[0]?.event_time_ms).toEqual([started, started, started, old, 0].map(String));
    expect(reply.views[0]?.sources).toEqual([L2, L2, L2, L2, 4]);
  });

  it('skips rows older than the stored ones and counts them; newer rows of the same load are written', async () => {
    const t1 = Date.now() - 60_000;
    const t2 = t1 + 1000;
    const rows = (from: number, to: number, time: number) =>
      Array.from({ length: to - from + 1 }, (_, k) => userLine(from + k, String(time)));
    await loader.load(files.file('newer.csv', [HEADER, ...rows(5001, 5200, t2)].join('\n')));

    const again = await loader.load(
      files.file('mixed.csv', [HEADER, ...rows(5001, 5150, t1), ...rows(5151, 5200, t2 + 1)].join('\n')),
    );
    expect(again).toMatchObject({ rowsRead: 200, written: 50, skippedOlder: 150, rejected: 0 });

    const reply = await get([5001, 5150, 5151]);
    expect(reply.views[0]?.event_time_ms).toEqual([t2, t2, t2 + 1].map(String));
  });

  it('within one load, a repeated row older than the one before it loses and a newer one wins', async () => {
    const t1 = Date.now() - 120_000;
    const t2 = t1 + 1000;
    // Adjacent, so each pair is in one batch and one script call.
    const lines = [
      userLine(7001, String(t2)),
      userLine(7001, String(t1)),
      userLine(7002, String(t1)),
      userLine(7002, String(t2)),
    ];
    const result = await loader.load(files.file('repeats.csv', [HEADER, ...lines].join('\n')));
    expect(result).toMatchObject({ rowsRead: 4, written: 3, skippedOlder: 1, rejected: 0 });
    const reply = await get([7001, 7002]);
    expect(reply.views[0]?.event_time_ms).toEqual([String(t2), String(t2)]);
  });

  it("keeps each loaded row in Redis for the view's ttl (twice its max_age), spread by the jitter", async () => {
    await loader.load(
      files.file('ttl.csv', [HEADER, ...[8001, 8002, 8003].map((i) => userLine(i))].join('\n')),
    );
    const redis = redisClient(sharedRedisUrl());
    try {
      const keys = loader.store.reader.keys(
        loader.view,
        entityRows(
          loader.view.joinKeys,
          [{ name: 'user_id', string_values: [], int64_values: [8001, 8002, 8003] }],
          3,
        ),
      );
      const ttl = 2 * 3_600_000;
      for (const key of keys) {
        const left = await redis.pttl(key);
        expect(left).toBeGreaterThan(ttl * 0.9 - 60_000);
        expect(left).toBeLessThanOrEqual(ttl * 1.1);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('loads JSON lines: nulls, vectors as arrays, ids as numbers or strings, bad lines named by line', async () => {
    const text = [
      '{"user_id": 6001, "score": 1.5, "visits": "9007199254740993", "active": true, "city": null, "embedding": [1, 2, 3]}',
      '',
      '{"user_id": "6002", "event_time": "2024-05-01T12:00:00Z"}',
      '{"user_id": 6003, "colour": "red"}',
      '{"user_id": 6004, "embedding": [1, 2]}',
    ].join('\n');
    const summary = await loader.load(files.file('users.jsonl', text));
    expect(summary).toMatchObject({ rowsRead: 4, written: 2, rejected: 2 });
    expect(summary.reasons).toEqual([
      'line 4: unknown field "colour" (view users has no such column)',
      "line 5: embedding: 2 values; the vector's dim is 3",
    ]);
    const reply = await get([6001, 6002]);
    expect(column(reply, 'visits').int64_values).toEqual(['9007199254740993', '0']);
    expect(column(reply, 'visits').statuses).toEqual([PRESENT, OUTSIDE_MAX_AGE]);
    expect(column(reply, 'city').statuses).toEqual([NULL_VALUE, OUTSIDE_MAX_AGE]);
    expect(column(reply, 'embedding').float32_values.slice(0, 3)).toEqual([1, 2, 3]);
    expect(reply.views[0]?.event_time_ms[1]).toBe(String(Date.UTC(2024, 4, 1, 12)));
  });

  it('stops at the row that passes --max-rejects; the good rows before it are written', async () => {
    const lines = [HEADER, userLine(7001), 'x', userLine(7002), 'y', 'z', userLine(7003)];
    const summary = await loader.load(files.file('rejects.csv', lines.join('\n')), { maxRejects: 1 });
    expect(summary).toMatchObject({ rowsRead: 4, written: 2, rejected: 2 });
    expect(summary.failure?.message).toBe('more than 1 rows rejected (--max-rejects); stopped at row 4');
  });

  it('refuses a file whose header does not fit the view, or that cannot be read, writing nothing', async () => {
    const before = (await keysUnder(redisClient(sharedRedisUrl()), prefix)).length;
    await expect(loader.load(files.file('typo.csv', 'user_id,scroe\n1,2\n'))).rejects.toThrow(
      /header: unknown column "scroe"/,
    );
    await expect(loader.load(files.file('empty.csv', ''))).rejects.toThrow(/the file is empty/);
    await expect(loader.load(`${files.dir}/absent.csv`)).rejects.toThrow(/cannot read .*absent.csv: ENOENT/);
    expect(await keysUnder(redisClient(sharedRedisUrl()), prefix)).toHaveLength(before);
  });

  // Last: it invalidates the whole view, which the loader opened above no longer writes into.
  it("loads under the view's current generation: rows loaded after the view was invalidated are read", async () => {
    const path = files.file('after_invalidate.csv', `${HEADER}\n${userLine(700_001)}\n`);
    expect((await loader.load(path)).written).toBe(1);
    expect(column(await get([700_001]), 'score').statuses).toEqual([PRESENT]);
    await sidecar.client.unary('Invalidate', { view: { view: 'users' } });
    expect(column(await get([700_001]), 'score').statuses).toEqual([NOT_FOUND]);
    // A loader opened now writes under the new generation, which the sidecar reads.
    const after = await openLoader();
    try {
      const again = files.file('after_invalidate2.csv', `${HEADER}\n${userLine(700_002)}\n`);
      expect((await after.load(again)).written).toBe(1);
    } finally {
      await after.store.close();
    }
    expect(column(await get([700_002]), 'score').float32_values).toEqual([700_002 / 8]);
  });
});

describe('bulk load flow', () => {
  it('holds the reading back while the batches in flight are unanswered', async () => {
    const lines = [HEADER];
    for (let i = 1; i <= 40_000; i++) lines.push(userLine(i));
    const path = files.file('big.csv', lines.join('\n'));
    const held: (() => void)[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const sink: RowSink = {
      write: (rows) =>
        new Promise((resolve) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          held.push(() => {
            inFlight--;
            resolve({ written: rows.length, skippedOlder: 0 });
          });
        }),
    };
    let rowsRead = 0;
    const view = await viewNamed(loadConfig({}, { INFERCACHE_FEATURE_VIEWS: files.views }), 'users');
    const loading = bulkLoad(view, path, sink, {
      format: 'csv',
      batchSize: 100,
      inFlight: 2,
      eventTime: Date.now(),
      maxRejects: 0,
      onProgress: (p) => {
        rowsRead = p.rowsRead;
      },
    });
    while (held.length < 2) await sleep(5);
    await sleep(200);
    // Two batches out, a third waiting for a slot, and one chunk of the file read ahead at most.
    expect(held).toHaveLength(2);
    expect(rowsRead).toBeLessThan(5000);
    // Answer the writes as they come until the load ends.
    let done = false;
    const end = () => {
      done = true;
    };
    loading.then(end, end);
    while (!done) {
      held.shift()?.();
      await sleep(1);
    }
    const summary = await loading;
    expect(summary).toMatchObject({ rowsRead: 40_000, written: 40_000, rejected: 0 });
    expect(maxInFlight).toBe(2);
  });

  it('ends with a failure when Redis goes away during the load, keeping the counts so far', async () => {
    const redis = await startRedis();
    const own = await openLoader(redis.url);
    try {
      const lines = [HEADER, ...Array.from({ length: 500 }, (_, k) => userLine(k + 1))];
      await redis.stop();
      const summary = await own.load(files.file('outage.csv', lines.join('\n')));
      expect(summary).toMatchObject({ rowsRead: expect.any(Number), written: 0 });
      expect(summary.failure?.code).toBe('E_UNAVAILABLE');
      expect(summary.failure?.message).toMatch(/rows were not written \(Redis: unavailable\)/);
    } finally {
      await own.store.close();
      await redis.stop();
    }
  });
});
