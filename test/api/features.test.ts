import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type InferCacheClient, type PutFeaturesRequest } from '../helpers/client.js';
import {
  FS,
  FT,
  featureOf,
  freshIds,
  irisOnlyModels,
  type PutColumn,
  ST,
  stringIds,
  viewOf,
  viewsFile,
} from '../helpers/features.js';
import { metricSum, metricValue } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { eventually, grpcError, sleep } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const USER = 'user_id';
const hour = '1h';

const VIEWS = [
  {
    name: 'users',
    entities: [{ name: USER, type: 'string' }],
    features: [
      { name: 'age', type: 'int32' },
      { name: 'score', type: 'float32' },
      { name: 'name', type: 'string' },
    ],
    max_age: hour,
    not_found_ttl: '800ms',
  },
  {
    name: 'users_extra',
    entities: [{ name: USER, type: 'string' }],
    features: [
      { name: 'country', type: 'string' },
      { name: 'vip', type: 'bool' },
    ],
    max_age: hour,
  },
  {
    name: 'kinds',
    entities: [{ name: USER, type: 'string' }],
    features: [
      { name: 'f32', type: 'float32' },
      { name: 'f64', type: 'float64' },
      { name: 'i32', type: 'int32' },
      { name: 'i64', type: 'int64' },
      { name: 'flag', type: 'bool' },
      { name: 'label', type: 'string' },
      { name: 'blob', type: 'bytes' },
      { name: 'vec', type: 'float32_vector', dim: 3 },
    ],
    max_age: hour,
  },
  {
    name: 'items',
    entities: [{ name: 'item_id', type: 'int64' }],
    features: [{ name: 'price', type: 'float64' }],
    max_age: hour,
  },
  {
    name: 'short',
    entities: [{ name: USER, type: 'string' }],
    features: [{ name: 'level', type: 'int32' }],
    max_age: '1500ms',
    ttl: '2500ms',
  },
  {
    name: 'race',
    entities: [{ name: USER, type: 'string' }],
    features: [
      { name: 'version', type: 'int64' },
      { name: 'writer', type: 'string' },
    ],
    max_age: hour,
  },
  {
    name: 'writes',
    entities: [{ name: USER, type: 'string' }],
    features: [
      { name: 'age', type: 'int32' },
      { name: 'name', type: 'string' },
      { name: 'vec', type: 'float32_vector', dim: 2 },
    ],
    max_age: hour,
  },
];

const int32Column = (name: string, values: number[], statuses?: number[]): PutColumn => ({
  name,
  type: FT.INT32,
  int32_values: values,
  ...(statuses ? { statuses } : {}),
});
const stringColumn = (name: string, values: string[]): PutColumn => ({
  name,
  type: FT.STRING,
  bytes_values: values.map((v) => Buffer.from(v)),
});
const int64Column = (name: string, values: Array<string | number>): PutColumn => ({
  name,
  type: FT.INT64,
  int64_values: values.map(String),
});

/** A PutFeatures request for string-keyed `view`. */
const put = (
  view: string,
  ids: string[],
  features: PutColumn[],
  eventTimes: Array<number | string>,
): PutFeaturesRequest => ({ view, entities: stringIds(USER, ids), features, event_time_ms: eventTimes });

/** One sample of a sidecar's metrics, 0 when the series does not exist yet. */
async function metric(s: Sidecar, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await s.metrics(), name, labels) ?? 0;
}
const mgets = (s: Sidecar) => metric(s, 'infercache_redis_operation_duration_seconds_count', { op: 'mget' });

describe('GetFeatures and PutFeatures, end to end', () => {
  const keyPrefix = `feat-${randomBytes(5).toString('hex')}`;
  let redis: Redis;
  /** Writes and reads; L1 kept for the views' lifetimes. */
  let a: Sidecar;
  /** Same L2; L1 entries live 1 s. */
  let b: Sidecar;
  /** Same L2; reads only what others wrote. */
  let c: Sidecar;
  /** No Redis at all: L1 is the only tier. */
  let l1Only: Sidecar;
  /** A Redis URL where nothing listens. */
  let noRedis: Sidecar;

  beforeAll(async () => {
    redis = redisClient(sharedRedisUrl());
    const modelsDir = await irisOnlyModels();
    const env = {
      INFERCACHE_FEATURE_VIEWS: viewsFile(VIEWS),
      INFERCACHE_L2_TTL_JITTER: '0',
      // Sixteen writers at once on a busy 2-core box: Redis may take seconds to answer them all.
      INFERCACHE_L2_TIMEOUT_MS: '5000',
    };
    const shared = (more: Record<string, string> = {}) =>
      startSidecar({ redisUrl: sharedRedisUrl(), keyPrefix, modelsDir, env: { ...env, ...more } });
    [a, b, c, l1Only, noRedis] = await Promise.all([
      shared(),
      shared({ INFERCACHE_L1_TTL_MS: '1000' }),
      shared(),
      startSidecar({ redisUrl: '', modelsDir, env }),
      freePort().then((port) => startSidecar({ redisUrl: `redis://127.0.0.1:${port}`, modelsDir, env })),
    ]);
    await Promise.all([a, b, c].map((s) => s.waitForLog((l) => l.msg === 'L2 connected')));
  });
  afterAll(async () => {
    await stopAllSidecars();
    redis?.disconnect();
  });

  it('answers PRESENT, NULL_VALUE and NOT_FOUND per value, in request order, and counts them per view', async () => {
    const [u1, u2, missing] = freshIds(3, 'status');
    const t = Date.now() - 5000;
    const written = await a.client.putFeatures(
      put(
        'users',
        [u1 as string, u2 as string],
        [
          int32Column('age', [30, 0], [ST.PRESENT, ST.NULL_VALUE]),
          { name: 'score', type: FT.FLOAT32, float32_values: [1.5, 2.5] },
        ],
        [t, t + 1],
      ),
    );
    expect(written).toEqual({ written: 2, skipped_older: 0, applied: [true, true] });

    const res = await a.client.getFeatures({
      features: ['users'],
      entities: stringIds(USER, [u2 as string, missing as string, u1 as string]),
    });
    expect(res.features.map((f) => f.name)).toEqual(['users:age', 'users:score', 'users:name']);
    const age = featureOf(res, 'users:age');
    expect(age.type).toBe(FT.INT32);
    expect(age.int32_values).toEqual([0, 0, 30]);
    expect(age.statuses).toEqual([ST.NULL_VALUE, ST.NOT_FOUND, ST.PRESENT]);
    const score = featureOf(res, 'users:score');
    expect(score.float32_values).toEqual([2.5, 0, 1.5]);
    expect(score.statuses).toEqual([ST.PRESENT, ST.NOT_FOUND, ST.PRESENT]);
    // A feature the put left out is null in every row it wrote.
    const name = featureOf(res, 'users:name');
    expect(name.bytes_values.map(String)).toEqual(['', '', '']);
    expect(name.statuses).toEqual([ST.NULL_VALUE, ST.NOT_FOUND, ST.NULL_VALUE]);
    // Rows this sidecar wrote come from its L1, or from L2 once client
    // tracking has reported its own write (which drops the L1 copy).
    const [view] = res.views;
    expect(view?.event_time_ms).toEqual([String(t + 1), '0', String(t)]);
    expect(view?.sources[1]).toBe(FS.NONE);
    for (const s of [view?.sources[0], view?.sources[2]]) expect([FS.L1, FS.L2]).toContain(s);

    const m = await a.metrics();
    const v = (labels: Record<string, string>) => metricSum(m, 'infercache_feature_values_total', labels);
    expect(v({ view: 'users', status: 'present' })).toBe(3);
    expect(v({ view: 'users', status: 'null_value' })).toBe(3);
    expect(v({ view: 'users', status: 'not_found' })).toBe(3);
    // By tier and status: each row's values under the tier the response names
    // (u2: 1 present, 2 null; u1: 2 present, 1 null).
    const [fromU2, , fromU1] = (view?.sources ?? []).map((s) => ['', 'l1', 'l2', 'origin', 'none'][s]);
    for (const source of ['l1', 'l2']) {
      const expected = (u2: number, u1: number) =>
        (fromU2 === source ? u2 : 0) + (fromU1 === source ? u1 : 0);
      expect(v({ view: 'users', source, status: 'present' })).toBe(expected(1, 2));
      expect(v({ view: 'users', source, status: 'null_value' })).toBe(expected(2, 1));
    }
    expect(v({ view: 'users', source: 'none', status: 'not_found' })).toBe(3);
    const rows = (source: string) =>
      metricValue(m, 'infercache_feature_rows_total', { view: 'users', source });
    // Counted by where each row came from, as the response says.
    const from = (source: number) => view?.sources.filter((s) => s === source).length ?? 0;
    expect([rows('l1') ?? 0, rows('l2') ?? 0, rows('none')]).toEqual([from(FS.L1), from(FS.L2), 1]);
    // One observation per call, of its entity count: the put (2) and the get (3).
    expect(metricValue(m, 'infercache_feature_batch_entities_count', { view: 'users' })).toBe(2);
    expect(metricValue(m, 'infercache_feature_batch_entities_sum', { view: 'users' })).toBe(5);
    expect(metricValue(m, 'infercache_feature_age_seconds_count', { view: 'users' })).toBe(2);
    expect(metricValue(m, 'infercache_feature_age_seconds_bucket', { view: 'users', le: '1' })).toBe(0);
    expect(metricValue(m, 'infercache_feature_age_seconds_bucket', { view: 'users', le: '10' })).toBe(2);
    expect(metricValue(m, 'infercache_feature_writes_total', { view: 'users', result: 'written' })).toBe(2);
  });

  it('gives back every type exactly as it was put, int64 beyond 2^53 too, to another sidecar from L2', async () => {
    const ids = freshIds(2, 'kinds');
    const t = Date.now();
    await a.client.putFeatures(
      put(
        'kinds',
        ids,
        [
          { name: 'f32', type: FT.FLOAT32, float32_values: [0.1, -2] },
          { name: 'f64', type: FT.FLOAT64, float64_values: [0.1, -1e300] },
          { name: 'i32', type: FT.INT32, int32_values: [-(2 ** 31), 2 ** 31 - 1] },
          int64Column('i64', ['9007199254740993', '-9223372036854775808']),
          { name: 'flag', type: FT.BOOL, bool_values: [true, false] },
          stringColumn('label', ['Grüße 🌍', '']),
          { name: 'blob', type: FT.BYTES, bytes_values: [Buffer.from([0, 255]), Buffer.alloc(0)] },
          { name: 'vec', type: FT.FLOAT32_VECTOR, dim: 3, float32_values: [1, 2, 3, 4.5, 5.5, 6.5] },
        ],
        [t, t],
      ),
    );
    const res = await b.client.getFeatures({ features: ['kinds:*'], entities: stringIds(USER, ids) });
    expect(viewOf(res, 'kinds').sources).toEqual([FS.L2, FS.L2]);
    expect(featureOf(res, 'kinds:f32').float32_values).toEqual([Math.fround(0.1), -2]);
    expect(featureOf(res, 'kinds:f64').float64_values).toEqual([0.1, -1e300]);
    expect(featureOf(res, 'kinds:i32').int32_values).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect(featureOf(res, 'kinds:i64').int64_values).toEqual(['9007199254740993', '-9223372036854775808']);
    expect(featureOf(res, 'kinds:flag').bool_values).toEqual([true, false]);
    expect(featureOf(res, 'kinds:label').bytes_values.map((b) => b.toString('utf8'))).toEqual([
      'Grüße 🌍',
      '',
    ]);
    expect(featureOf(res, 'kinds:blob').bytes_values.map((b) => b.toString('hex'))).toEqual(['00ff', '']);
    const vec = featureOf(res, 'kinds:vec');
    expect([vec.type, vec.dim, vec.float32_values]).toEqual([FT.FLOAT32_VECTOR, 3, [1, 2, 3, 4.5, 5.5, 6.5]]);
    for (const f of res.features) expect(f.statuses).toEqual([ST.PRESENT, ST.PRESENT]);
  });

  it('takes a whole view as "view" or "view:*" in its order, and subsets of several views sharing the join key', async () => {
    const [id] = freshIds(1, 'mix');
    const t = Date.now();
    await a.client.putFeatures(put('users', [id as string], [int32Column('age', [41])], [t]));
    await a.client.putFeatures(
      put(
        'users_extra',
        [id as string],
        [stringColumn('country', ['NO']), { name: 'vip', type: FT.BOOL, bool_values: [true] }],
        [t],
      ),
    );
    const entities = stringIds(USER, [id as string]);
    const mixed = await a.client.getFeatures({
      features: ['users_extra:vip', 'users:age', 'users_extra'],
      entities,
    });
    expect(mixed.features.map((f) => f.name)).toEqual([
      'users_extra:vip',
      'users:age',
      'users_extra:country',
      'users_extra:vip',
    ]);
    expect(mixed.views.map((v) => v.view)).toEqual(['users_extra', 'users']);
    expect(featureOf(mixed, 'users:age').int32_values).toEqual([41]);
    expect(featureOf(mixed, 'users_extra:country').bytes_values.map(String)).toEqual(['NO']);

    const star = await a.client.getFeatures({ features: ['users_extra:*'], entities });
    const plain = await a.client.getFeatures({ features: ['users_extra'], entities });
    expect(star.features).toEqual(plain.features);
    expect(star.features.map((f) => f.name)).toEqual(['users_extra:country', 'users_extra:vip']);
  });

  it('refuses views with other join keys in one call, and unknown views and features, with INVALID_ARGUMENT', async () => {
    const entities = stringIds(USER, ['x']);
    const cases: [string[], RegExp][] = [
      [['users:age', 'users_extra:vip', 'items:price'], /views users and items have different join keys/],
      [['nope:age'], /unknown view "nope"/],
      [['users:nope'], /view users has no feature "nope"/],
      [[], /name at least one/],
    ];
    for (const [features, message] of cases) {
      const error = await grpcError(a.client.getFeatures({ features, entities }));
      expect(error.code, features.join(',')).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(message);
    }
  });

  it('reads the L1 misses of every view of a call in one Redis round trip', async () => {
    const ids = freshIds(3, 'trip');
    const t = Date.now();
    await a.client.putFeatures(put('users', ids, [int32Column('age', [1, 2, 3])], [t, t, t]));
    await a.client.putFeatures(
      put('users_extra', ids, [stringColumn('country', ['A', 'B', 'C'])], [t, t, t]),
    );
    const before = await mgets(c);
    const res = await c.client.getFeatures({
      features: ['users:age', 'users_extra:country', 'kinds:i32'],
      entities: stringIds(USER, ids),
    });
    expect(await mgets(c)).toBe(before + 1);
    expect(viewOf(res, 'users').sources).toEqual([FS.L2, FS.L2, FS.L2]);
    expect(viewOf(res, 'users_extra').sources).toEqual([FS.L2, FS.L2, FS.L2]);
    expect(viewOf(res, 'kinds').sources).toEqual([FS.NONE, FS.NONE, FS.NONE]);
  });

  it('fetches an entity given several times in one call once, and answers it at every position', async () => {
    const [x, y, gone] = freshIds(3, 'dup') as [string, string, string];
    const t = Date.now();
    await a.client.putFeatures(put('users', [x, y], [int32Column('age', [7, 8])], [t, t]));
    const lookups = (result: string) =>
      metric(c, 'infercache_cache_lookups_total', { kind: 'f', tier: 'l2', result });
    const [mgetBefore, hitsBefore, missesBefore] = [
      await mgets(c),
      await lookups('hit'),
      await lookups('miss'),
    ];
    const res = await c.client.getFeatures({
      features: ['users:age'],
      entities: stringIds(USER, [x, y, x, gone, x, gone, y]),
    });
    expect(featureOf(res, 'users:age').int32_values).toEqual([7, 8, 7, 0, 7, 0, 8]);
    expect(featureOf(res, 'users:age').statuses).toEqual([1, 1, 1, 3, 1, 3, 1]);
    expect(await mgets(c)).toBe(mgetBefore + 1);
    expect(await lookups('hit')).toBe(hitsBefore + 2);
    expect(await lookups('miss')).toBe(missesBefore + 1);
  });

  it('judges freshness when it serves: a row read into L1 inside max_age is served from L1 as OUTSIDE_MAX_AGE once max_age passes', async () => {
    const [id] = freshIds(1, 'age') as [string];
    // Event time 1 s ago: inside the 1.5 s max_age for another 0.5 s.
    const eventTime = Date.now() - 1000;
    await a.client.putFeatures(put('short', [id], [int32Column('level', [5])], [eventTime]));
    const ask = () => c.client.getFeatures({ features: ['short:level'], entities: stringIds(USER, [id]) });

    const fresh = await ask();
    expect(viewOf(fresh, 'short').sources).toEqual([FS.L2]);
    expect(featureOf(fresh, 'short:level').statuses).toEqual([ST.PRESENT]);

    await sleep(eventTime + 1650 - Date.now());
    const before = await mgets(c);
    const old = await ask();
    expect(viewOf(old, 'short').sources).toEqual([FS.L1]);
    expect(await mgets(c)).toBe(before);
    expect(featureOf(old, 'short:level').statuses).toEqual([ST.OUTSIDE_MAX_AGE]);
    expect(featureOf(old, 'short:level').int32_values).toEqual([5]);
    expect(viewOf(old, 'short').event_time_ms).toEqual([String(eventTime)]);
    expect(
      await metric(c, 'infercache_feature_values_total', {
        view: 'short',
        source: 'l1',
        status: 'outside_max_age',
      }),
    ).toBe(1);
  });

  it('serves a row past max_age as OUTSIDE_MAX_AGE until its ttl ends, and as NOT_FOUND after', async () => {
    const [id] = freshIds(1, 'ttl') as [string];
    await a.client.putFeatures(put('short', [id], [int32Column('level', [9])], [Date.now() - 2000]));
    // Every lifetime of the row started before the put answered.
    const writtenBy = Date.now();
    const ask = (s: Sidecar) =>
      s.client.getFeatures({ features: ['short'], entities: stringIds(USER, [id]) });

    for (const s of [a, c]) {
      const old = await ask(s);
      expect(featureOf(old, 'short:level').statuses).toEqual([ST.OUTSIDE_MAX_AGE]);
      expect(featureOf(old, 'short:level').int32_values).toEqual([9]);
    }
    expect((await keysUnder(redis, `${keyPrefix}:f:short`)).length).toBeGreaterThan(0);

    // The ttl (2.5 s) counts from the write: past it neither Redis nor any L1 has the row.
    await sleep(writtenBy + 2600 - Date.now());
    for (const s of [a, c]) {
      const gone = await ask(s);
      expect(featureOf(gone, 'short:level').statuses).toEqual([ST.NOT_FOUND]);
      expect(viewOf(gone, 'short')).toMatchObject({ event_time_ms: ['0'], sources: [FS.NONE] });
    }
  });

  it('shows a row put through one sidecar to another from L2, and a later put replaces its L1 copy at once (fleet invalidation)', async () => {
    const [id] = freshIds(1, 'l1') as [string];
    const t = Date.now() - 10_000;
    await a.client.putFeatures(put('users', [id], [int32Column('age', [1])], [t]));
    const ask = () => b.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, [id]) });
    const first = await ask();
    expect([viewOf(first, 'users').sources, featureOf(first, 'users:age').int32_values]).toEqual([
      [FS.L2],
      [1],
    ]);
    const cached = await ask();
    expect(viewOf(cached, 'users').sources).toEqual([FS.L1]);

    await a.client.putFeatures(put('users', [id], [int32Column('age', [2])], [t + 1]));
    // The change reaches the other sidecar within the invalidation lag (milliseconds).
    const after = await eventually(
      'the new value on the other sidecar',
      async () => {
        const r = await ask();
        return featureOf(r, 'users:age').int32_values[0] === 2 ? r : undefined;
      },
      2000,
    );
    expect(viewOf(after, 'users').sources).toEqual([FS.L2]);
  });

  it('remembers an entity found nowhere for not_found_ttl without asking Redis again, then forgets it', async () => {
    const [id] = freshIds(1, 'nf') as [string];
    const ask = () => a.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, [id]) });
    const before = await mgets(a);
    const first = await ask();
    const firstAt = Date.now();
    expect(featureOf(first, 'users:age').statuses).toEqual([ST.NOT_FOUND]);
    expect(await mgets(a)).toBe(before + 1);

    const remembered = await ask();
    expect(featureOf(remembered, 'users:age').statuses).toEqual([ST.NOT_FOUND]);
    expect(viewOf(remembered, 'users').sources).toEqual([FS.NONE]);
    expect(await mgets(a)).toBe(before + 1);

    await sleep(firstAt + 900 - Date.now());
    const forgotten = await ask();
    expect(featureOf(forgotten, 'users:age').statuses).toEqual([ST.NOT_FOUND]);
    expect(await mgets(a)).toBe(before + 2);
  });

  it('forgets a remembered NOT_FOUND at once when the entity is written through another sidecar', async () => {
    const [id] = freshIds(1, 'nf2') as [string];
    const ask = () => a.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, [id]) });
    expect(featureOf(await ask(), 'users:age').statuses).toEqual([ST.NOT_FOUND]);
    await b.client.putFeatures(put('users', [id], [int32Column('age', [64])], [Date.now()]));
    const found = await eventually(
      'the written row',
      async () => {
        const r = await ask();
        return featureOf(r, 'users:age').statuses[0] === ST.PRESENT ? r : undefined;
      },
      2000,
    );
    expect(featureOf(found, 'users:age').int32_values).toEqual([64]);
  });

  describe('a batch with one bad row among many writes nothing', () => {
    const ROWS = 50;
    const BAD = 37;
    const base = (ids: string[]) => ({
      ids,
      features: [
        int32Column(
          'age',
          ids.map((_, i) => i),
        ),
        stringColumn(
          'name',
          ids.map((id) => `name of ${id}`),
        ),
        { name: 'vec', type: FT.FLOAT32_VECTOR, dim: 2, float32_values: ids.flatMap((_, i) => [i, -i]) },
      ] as PutColumn[],
      times: ids.map(() => Date.now()),
    });
    type Batch = ReturnType<typeof base>;
    const request = (b: Batch): PutFeaturesRequest => put('writes', b.ids, b.features, b.times);
    const replace = (b: Batch, name: string, column: PutColumn): Batch => ({
      ...b,
      features: b.features.map((f) => (f.name === name ? column : f)),
    });

    it.each<[string, (b: Batch) => PutFeaturesRequest, RegExp]>([
      [
        'a feature the view does not have',
        (b) =>
          request({
            ...b,
            features: [
              ...b.features,
              int32Column(
                'height',
                b.ids.map(() => 1),
              ),
            ],
          }),
        /^E_INVALID_ARGUMENT: features: view writes has no feature "height"$/,
      ],
      [
        'a column of the wrong type',
        (b) =>
          request(replace(b, 'age', { name: 'age', type: FT.FLOAT64, float64_values: b.ids.map(() => 1.5) })),
        /^E_INVALID_ARGUMENT: features: "age" is int32; the column says type 2$/,
      ],
      [
        'a string value that is not UTF-8 in one row',
        (b) => {
          const names = b.ids.map((id) => Buffer.from(id));
          names[BAD] = Buffer.from([0xc3, 0x28]);
          return request(replace(b, 'name', { name: 'name', type: FT.STRING, bytes_values: names }));
        },
        new RegExp(`^E_INVALID_ARGUMENT: row ${BAD}, features: "name": not UTF-8`),
      ],
      [
        'one value too few',
        (b) =>
          request(
            replace(
              b,
              'age',
              int32Column(
                'age',
                b.ids.slice(1).map(() => 1),
              ),
            ),
          ),
        /^E_INVALID_ARGUMENT: features: "age": 49 values in int32_values for 50 rows$/,
      ],
      [
        'a vector value short of its dimension',
        (b) =>
          request(
            replace(b, 'vec', {
              name: 'vec',
              type: FT.FLOAT32_VECTOR,
              dim: 2,
              float32_values: new Array(99).fill(1),
            }),
          ),
        /^E_INVALID_ARGUMENT: features: "vec": 99 values in float32_values for 50 rows of dim 2$/,
      ],
      [
        'no join key column',
        (b) => ({ ...request(b), entities: { columns: [{ name: 'uid', string_values: b.ids }] } }),
        /^E_INVALID_ARGUMENT: entities: no column for join key "user_id"/,
      ],
      [
        'an id over 256 bytes in one row',
        (b) => {
          const ids = [...b.ids];
          ids[BAD] = 'x'.repeat(300);
          return request({ ...b, ids });
        },
        new RegExp(
          `^E_INVALID_ARGUMENT: the PutFeatures request is not a valid message: entities\\.columns\\.string_values\\[${BAD}\\] is 300 bytes; at most 256$`,
        ),
      ],
      [
        'an event time of 0 in one row',
        (b) => request({ ...b, times: b.times.map((t, i) => (i === BAD ? 0 : t)) }),
        new RegExp(`^E_INVALID_ARGUMENT: row ${BAD}: event_time_ms "0" is not a time in ms$`),
      ],
      [
        'a negative event time in one row',
        (b) => request({ ...b, times: b.times.map((t, i) => (i === BAD ? -5 : t)) }),
        new RegExp(`^E_INVALID_ARGUMENT: row ${BAD}: event_time_ms "-5" is not a time in ms$`),
      ],
      [
        'one event time too few',
        (b) => request({ ...b, times: b.times.slice(1) }),
        /^E_INVALID_ARGUMENT: event_time_ms: 49 given for 50 rows$/,
      ],
    ])('%s: INVALID_ARGUMENT naming the row or field', async (_what, build, message) => {
      const error = await grpcError(a.client.putFeatures(build(base(freshIds(ROWS, 'bad')))));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(message);
      expect(await keysUnder(redis, `${keyPrefix}:f:writes`)).toEqual([]);
      expect(await metric(a, 'infercache_feature_writes_total', { view: 'writes' })).toBe(0);
    });

    it('while the same batch, mended, writes every row', async () => {
      const b = base(freshIds(ROWS, 'good'));
      expect((await a.client.putFeatures(request(b))).written).toBe(ROWS);
      expect(await keysUnder(redis, `${keyPrefix}:f:writes`)).toHaveLength(ROWS);
    });
  });

  it('reads 10,000 entities in one call from L2 in one round trip, and refuses 10,001 with RESOURCE_EXHAUSTED naming the limit', async () => {
    const ids = freshIds(10_000, 'many');
    const t = Date.now();
    const written = await a.client.putFeatures(
      put(
        'users',
        ids,
        [
          int32Column(
            'age',
            ids.map((_, i) => i),
          ),
        ],
        ids.map(() => t),
      ),
    );
    expect(written.written).toBe(10_000);
    const before = await mgets(c);
    const res = await c.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, ids) });
    expect(await mgets(c)).toBe(before + 1);
    const age = featureOf(res, 'users:age');
    expect(age.int32_values).toEqual(ids.map((_, i) => i));
    expect(age.statuses.every((s) => s === ST.PRESENT)).toBe(true);
    expect(viewOf(res, 'users').sources.every((s) => s === FS.L2)).toBe(true);

    const more = [...ids, 'one-more'];
    const refusals = await Promise.all([
      grpcError(c.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, more) })),
      grpcError(
        c.client.putFeatures(
          put(
            'users',
            more,
            [],
            more.map(() => t),
          ),
        ),
      ),
    ]);
    for (const error of refusals) {
      expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toBe(
        'E_LIMIT_EXCEEDED: 10001 entity rows given; the limit is 10000 (INFERCACHE_MAX_ENTITY_ROWS)',
      );
    }
  });

  it('refuses a call whose answer could not fit in a message, before reading anything, with RESOURCE_EXHAUSTED', async () => {
    const ids = freshIds(10_000, 'wide');
    const before = await mgets(c);
    // A 2 KB request: the whole view named 900 times, for 10,000 entities.
    const error = await grpcError(
      c.client.getFeatures({
        features: Array.from({ length: 900 }, () => 'users'),
        entities: stringIds(USER, ids),
      }),
    );
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(
      /^E_LIMIT_EXCEEDED: \d+ features × 10000 entities make an answer of at least \d+ bytes; the limit is 16777216 \(INFERCACHE_MAX_MESSAGE_BYTES\)$/,
    );
    expect(await mgets(c)).toBe(before);
    // The same call for the view once fits, and is answered.
    const res = await c.client.getFeatures({
      features: ['users'],
      entities: stringIds(USER, ids.slice(0, 10)),
    });
    expect(viewOf(res, 'users').sources).toHaveLength(10);
  });

  it('keeps the newest event time of each row while writers on two sidecar processes put the same entities at once, in any order', async () => {
    const ENTITIES = 60;
    const WRITERS = 4;
    const BATCHES = 4;
    const ids = freshIds(ENTITIES, 'race');
    const base = Date.now() - 60_000;
    // Each entity gets every event time from 0 to 15 once, shuffled over the 16 writes.
    const order = ids.map(() => shuffled(WRITERS * BATCHES));
    const timeOf = (e: number, w: number, batch: number) =>
      base + e * 100 + (order[e]?.[w * BATCHES + batch] ?? 0);
    const clients: InferCacheClient[] = [
      a.client,
      b.client,
      createClient(a.grpcAddr),
      createClient(b.grpcAddr),
    ];
    try {
      const writes = clients.flatMap((client, w) =>
        Array.from({ length: BATCHES }, (_, batch) =>
          client.putFeatures(
            put(
              'race',
              ids,
              [
                int64Column(
                  'version',
                  ids.map((_, e) => timeOf(e, w, batch)),
                ),
                stringColumn(
                  'writer',
                  ids.map(() => `w${w}b${batch}`),
                ),
              ],
              ids.map((_, e) => timeOf(e, w, batch)),
            ),
          ),
        ),
      );
      const results = await Promise.all(writes);
      const written = results.reduce((n, r) => n + r.written, 0);
      const skipped = results.reduce((n, r) => n + r.skipped_older, 0);
      expect(written + skipped).toBe(ENTITIES * WRITERS * BATCHES);
      expect(written).toBeGreaterThanOrEqual(ENTITIES);
      expect(skipped).toBeGreaterThan(0);
    } finally {
      for (const client of clients.slice(2)) client.close();
    }

    const newest = ids.map((_, e) => base + e * 100 + WRITERS * BATCHES - 1);
    const newestWriter = ids.map((_, e) => {
      const slot = order[e]?.indexOf(WRITERS * BATCHES - 1) ?? -1;
      return `w${Math.floor(slot / BATCHES)}b${slot % BATCHES}`;
    });
    const res = await c.client.getFeatures({ features: ['race'], entities: stringIds(USER, ids) });
    expect(viewOf(res, 'race').sources.every((s) => s === FS.L2)).toBe(true);
    expect(viewOf(res, 'race').event_time_ms).toEqual(newest.map(String));
    expect(featureOf(res, 'race:version').int64_values).toEqual(newest.map(String));
    expect(featureOf(res, 'race:writer').bytes_values.map(String)).toEqual(newestWriter);

    // The frames in Redis carry the newest event time too, big-endian at byte 8.
    const keys = await keysUnder(redis, `${keyPrefix}:f:race`);
    expect(keys).toHaveLength(ENTITIES);
    const frames = await Promise.all(keys.map((k) => redis.getBuffer(k)));
    const times = frames.map((f) => (f as Buffer).readDoubleBE(8)).sort((x, y) => x - y);
    expect(times).toEqual(newest);
  });

  it('answers a PutFeatures that Redis cannot take with UNAVAILABLE saying how many rows were not written', async () => {
    const ids = freshIds(3, 'down');
    const t = Date.now();
    const error = await grpcError(
      noRedis.client.putFeatures(put('users', ids, [int32Column('age', [1, 2, 3])], [t, t, t])),
    );
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(
      /^E_UNAVAILABLE: 3 of 3 rows were not written \(Redis: \w+\); 0 were; writing again is safe$/,
    );
    expect(
      await metric(noRedis, 'infercache_feature_writes_total', { view: 'users', result: 'failed' }),
    ).toBe(3);
  });

  describe('with no Redis configured', () => {
    const ask = (id: string) =>
      l1Only.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, [id]) });

    it('serves what was put from L1, and an older event never replaces a newer row', async () => {
      const [id] = freshIds(1, 'l1only') as [string];
      const t = Date.now() - 1000;
      expect(
        await l1Only.client.putFeatures(put('users', [id], [int32Column('age', [2])], [t + 200])),
      ).toEqual({
        written: 1,
        skipped_older: 0,
        applied: [true],
      });
      expect(
        await l1Only.client.putFeatures(put('users', [id], [int32Column('age', [1])], [t + 100])),
      ).toEqual({
        written: 0,
        skipped_older: 1,
        applied: [false],
      });
      const res = await ask(id);
      expect([viewOf(res, 'users').sources, featureOf(res, 'users:age').int32_values]).toEqual([
        [FS.L1],
        [2],
      ]);
      expect(viewOf(res, 'users').event_time_ms).toEqual([String(t + 200)]);
      expect(
        await metric(l1Only, 'infercache_feature_writes_total', { view: 'users', result: 'skipped_older' }),
      ).toBe(1);
    });

    it('keeps the newer row when one batch holds the same entity twice, the newer first', async () => {
      const [id] = freshIds(1, 'l1twice') as [string];
      const t = Date.now() - 1000;
      const result = await l1Only.client.putFeatures(
        put('users', [id, id], [int32Column('age', [300, 250])], [t + 300, t + 250]),
      );
      expect(result).toEqual({ written: 1, skipped_older: 1, applied: [true, false] });
      expect(featureOf(await ask(id), 'users:age').int32_values).toEqual([300]);
    });
  });

  it('keeps the newer row of an entity given twice in one batch, in Redis and in the L1 of the writer', async () => {
    const [id] = freshIds(1, 'twice') as [string];
    const t = Date.now() - 1000;
    const result = await a.client.putFeatures(
      put('users', [id, id], [int32Column('age', [300, 250])], [t + 300, t + 250]),
    );
    expect(result).toEqual({ written: 1, skipped_older: 1, applied: [true, false] });
    const read = async (s: Sidecar) => {
      const res = await s.client.getFeatures({ features: ['users:age'], entities: stringIds(USER, [id]) });
      return [viewOf(res, 'users').sources[0], featureOf(res, 'users:age').int32_values[0]];
    };
    expect(await read(a)).toEqual([FS.L1, 300]);
    expect(await read(c)).toEqual([FS.L2, 300]);
  });
});

/** 0..n-1 in a random order. */
function shuffled(n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}
