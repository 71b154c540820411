import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheClientConstructor, loadPackageDefinition } from '../../src/api/proto.js';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildFlowerEmbeddingModel } from '../../src/model/zoo/flower_embedding.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { EntityKeysInput } from '../helpers/client.js';
import { metricValue } from '../helpers/metrics.js';
import { redisCommand } from '../helpers/redis_command.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const VIEW = 'iris_flowers';
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const FS_L1 = 1;
const FS_L2 = 2;
const DT_FLOAT32 = 1;
const redisPort = () => Number(new URL(sharedRedisUrl()).port);
const redis = (...args: string[]) => redisCommand(redisPort(), args);

const ids = (...flowerIds: number[]): EntityKeysInput => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});

interface WarmProgress {
  rows_done: string;
  rows_total: string;
  rows_failed: string;
  seconds: number;
  done: boolean;
  ranking: string;
}

/** A Warm call: its progress messages as they come, and how it ended. */
function warm(s: Sidecar, request: unknown) {
  const Client = inferCacheClientConstructor(loadPackageDefinition());
  const client = new Client(s.grpcAddr, grpc.credentials.createInsecure());
  const call = (
    client as unknown as Record<string, (req: unknown) => grpc.ClientReadableStream<WarmProgress>>
  ).Warm?.call(client, request) as grpc.ClientReadableStream<WarmProgress>;
  const messages: WarmProgress[] = [];
  const listeners: (() => void)[] = [];
  call.on('data', (p: WarmProgress) => {
    messages.push(p);
    for (const l of listeners.splice(0)) l();
  });
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.on('end', () => resolve(undefined));
    call.on('error', (e: grpc.ServiceError) => resolve(e));
  }).finally(() => client.close());
  return {
    call,
    messages,
    ended,
    firstMessage: () =>
      messages.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => listeners.push(resolve)),
  };
}

async function modelRepository(dir: string): Promise<string> {
  await writeModel(dir, 'flower_embedding', 1, buildFlowerEmbeddingModel());
  await writeModel(dir, 'iris', 1, buildIrisModel());
  const views = join(dir, 'views.json');
  await writeFile(
    views,
    JSON.stringify({
      views: [
        {
          name: VIEW,
          entities: [{ name: 'flower_id', type: 'int64' }],
          features: FEATURES.map((name) => ({ name, type: 'float32' })),
          max_age: '24h',
        },
      ],
    }),
  );
  return views;
}

async function put(s: Sidecar, flowerIds: number[]): Promise<void> {
  const rows = irisRows(flowerIds.length);
  const res = await s.client.putFeatures({
    view: VIEW,
    entities: ids(...flowerIds),
    features: FEATURES.map((name, j) => ({
      name,
      type: DT_FLOAT32,
      float32_values: rows.map((r) => r[j] as number),
    })),
    event_time_ms: flowerIds.map(() => Date.now()),
  });
  expect(res.written).toBe(flowerIds.length);
}

const sourcesOf = async (s: Sidecar, ...flowerIds: number[]) =>
  (await s.client.getFeatures({ features: [VIEW], entities: ids(...flowerIds) })).views[0]?.sources;
const predictSources = async (s: Sidecar, ...flowerIds: number[]) =>
  (await s.client.predict({ model: 'iris', entities: ids(...flowerIds) })).row_sources;
const embedSources = async (s: Sidecar, flowerIds: number[], normalize = false) =>
  (
    await s.client.unary<{ row_sources: number[] }>('GetEmbeddings', {
      model: 'flower_embedding',
      entities: ids(...flowerIds),
      normalize,
    })
  ).row_sources;
const metric = async (s: Sidecar, name: string, labels: Record<string, string>) =>
  metricValue(await s.metrics(), name, labels) ?? 0;

describe('popularity and warming (sidecars on one Redis)', () => {
  let dir: string;
  let env: Record<string, string>;
  let a: Sidecar;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warming-'));
    env = {
      INFERCACHE_FEATURE_VIEWS: await modelRepository(dir),
      INFERCACHE_POPULARITY_PUBLISH_MS: '1000',
    };
    a = await startSidecar({ redisUrl: sharedRedisUrl(), modelsDir: dir, env });
    await put(a, [101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ranks the entities looked up (features, predictions and embeddings by entity) in Redis, most first', async () => {
    const times = async (n: number, f: () => Promise<unknown>) => {
      for (let i = 0; i < n; i++) await f();
    };
    await times(9, () => sourcesOf(a, 101));
    await times(7, () => sourcesOf(a, 102));
    await times(5, () => predictSources(a, 103));
    await times(4, () => embedSources(a, [104]));
    await times(3, () => sourcesOf(a, 105));
    await sourcesOf(a, 106);
    const key = `${a.keyPrefix}:popular:${VIEW}`;
    const ranked = await eventually(
      'the fleet ranking to hold the six entities looked up',
      async () => {
        const reply = (await redis('ZREVRANGE', key, '0', '-1', 'WITHSCORES')) as string[];
        return reply.length === 12 ? reply : undefined;
      },
      30_000,
    );
    const members = ranked.filter((_, i) => i % 2 === 0);
    const scores = ranked.filter((_, i) => i % 2 === 1).map(Number);
    expect(members).toEqual(['["101"]', '["102"]', '["103"]', '["104"]', '["105"]', '["106"]']);
    expect(scores.every((s) => s > 0)).toBe(true);
    // Never looked up, never ranked: PutFeatures is a write, not a lookup.
    expect(await redis('ZSCORE', key, '["107"]')).toBeNull();
  });

  it('a new sidecar warms the fleet top entities before it says SERVING: features, predictions and embeddings from L1', async () => {
    const b = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      keyPrefix: a.keyPrefix,
      env: { ...env, INFERCACHE_WARM_TOP: '5', INFERCACHE_WARM_START_BUDGET_MS: '60000' },
    });
    const logs = b.logs();
    const warmed = logs.findIndex((l) => l.msg === 'warmed the fleet top entities before serving');
    expect(warmed).toBeGreaterThan(-1);
    expect(warmed).toBeLessThan(logs.findIndex((l) => l.msg === 'infercache serving'));
    expect(logs[warmed]).toMatchObject({ done: 5, total: 5, failed: 0 });

    expect(await metric(b, 'infercache_warm_rows_total', { kind: 'f', result: 'warmed' })).toBe(5);
    expect(await metric(b, 'infercache_warm_rows_total', { kind: 'p', result: 'warmed' })).toBe(5);
    expect(await metric(b, 'infercache_warm_rows_total', { kind: 'e', result: 'warmed' })).toBe(5);
    expect(await metric(b, 'infercache_warm_runs_total', { trigger: 'start', outcome: 'done' })).toBe(1);
    expect(await metric(b, 'infercache_warm_seconds_total', { trigger: 'start' })).toBeGreaterThan(0);

    // The first calls to this sidecar: the top five from L1; the rest from L2.
    const top = [101, 102, 103, 104, 105];
    expect(await sourcesOf(b, ...top, 106, 107)).toEqual([...top.map(() => FS_L1), FS_L2, FS_L2]);
    expect(await predictSources(b, ...top)).toEqual(top.map(() => SRC.L1));
    // Both variants of the vectors were stored by the warming.
    expect(await embedSources(b, top)).toEqual(top.map(() => SRC.L1));
    expect(await embedSources(b, top, true)).toEqual(top.map(() => SRC.L1));
    expect(await predictSources(b, 108)).toEqual([SRC.MODEL]);
  });

  it('Warm streams progress per batch and warms the entities given, or the fleet top N', async () => {
    const d = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      keyPrefix: a.keyPrefix,
      env: { ...env, INFERCACHE_WARM_START_BUDGET_MS: '0', INFERCACHE_WARM_BATCH_ROWS: '2' },
    });
    const given = warm(d, { view: VIEW, entities: ids(107, 108, 109) });
    expect(await given.ended).toBeUndefined();
    expect(given.messages.map((m) => [m.rows_done, m.rows_total, m.rows_failed, m.done])).toEqual([
      ['2', '3', '0', false],
      ['3', '3', '0', false],
      ['3', '3', '0', true],
    ]);
    expect(await sourcesOf(d, 107, 108, 109, 110)).toEqual([FS_L1, FS_L1, FS_L1, FS_L2]);
    expect(await predictSources(d, 107, 108, 109)).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    // None of these vectors was stored anywhere before: both variants came from one run here.
    expect(await embedSources(d, [107, 108, 109])).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    expect(await embedSources(d, [107, 108, 109], true)).toEqual([SRC.L1, SRC.L1, SRC.L1]);

    expect(given.messages.map((m) => m.ranking)).toEqual(['', '', '']);
    const top = warm(d, { view: VIEW, top: 2 });
    expect(await top.ended).toBeUndefined();
    expect(top.messages.at(-1)).toMatchObject({
      rows_done: '2',
      rows_total: '2',
      done: true,
      ranking: 'fleet',
    });
    expect(await sourcesOf(d, 101, 102, 103)).toEqual([FS_L1, FS_L1, FS_L2]);
    expect(await metric(d, 'infercache_warm_runs_total', { trigger: 'request', outcome: 'done' })).toBe(2);
    expect(await metric(d, 'infercache_warm_rows_total', { kind: 'f', result: 'warmed' })).toBe(5);
    expect(await metric(d, 'infercache_warm_seconds_total', { trigger: 'request' })).toBeGreaterThan(0);

    const unknown = warm(d, { view: 'nope', top: 1 });
    expect((await unknown.ended)?.details).toBe('E_INVALID_ARGUMENT: view: unknown view "nope"');
  });
});

describe('warming at a bounded rate, within its budget, cancellable', () => {
  let dir: string;
  let c: Sidecar;
  const prefix = `icwarm-${process.pid}-${Date.now().toString(36)}`;
  const RANKED = 1000;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warming-rate-'));
    const views = await modelRepository(dir);
    // A fleet ranking of 1000 entities, as many sidecars would have left it.
    const members = Array.from({ length: RANKED }, (_, i) => [String(RANKED - i), `["${i + 1}"]`]).flat();
    await redis('ZADD', `${prefix}:popular:${VIEW}`, ...members);
    // 1000 entities at 20 rows/s is 50 s of warming; the start budget is 1 s.
    c = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      keyPrefix: prefix,
      env: {
        INFERCACHE_FEATURE_VIEWS: views,
        INFERCACHE_WARM_TOP: String(RANKED),
        INFERCACHE_WARM_START_BUDGET_MS: '1000',
        INFERCACHE_WARM_ROWS_PER_SECOND: '20',
        INFERCACHE_WARM_BATCH_ROWS: '50',
      },
    });
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('says SERVING once the start budget is spent, the warming unfinished', async () => {
    expect(await c.client.health()).toBe('SERVING');
    expect(await metric(c, 'infercache_warm_runs_total', { trigger: 'start', outcome: 'budget' })).toBe(1);
    const skipped = await metric(c, 'infercache_warm_rows_total', { kind: 'f', result: 'skipped' });
    expect(skipped).toBeGreaterThan(RANKED / 2);
  });

  it('warms no more rows than the rate allows (plus one second’s burst)', async () => {
    const run = warm(c, { view: VIEW, top: 120 });
    expect(await run.ended).toBeUndefined();
    expect(run.messages.at(-1)).toMatchObject({ rows_done: '120', done: true });
    // A loaded machine only makes warming slower: this bound holds however busy it is.
    for (const m of run.messages) expect(Number(m.rows_done)).toBeLessThanOrEqual(20 + 20 * m.seconds);
  });

  it('stops when the Warm call is cancelled', async () => {
    const before = await metric(c, 'infercache_warm_rows_total', { kind: 'f', result: 'skipped' });
    const run = warm(c, { view: VIEW, top: RANKED });
    await run.firstMessage();
    run.call.cancel();
    expect((await run.ended)?.code).toBe(grpc.status.CANCELLED);
    await eventually(
      'the warm to stop, cancelled',
      async () =>
        (await metric(c, 'infercache_warm_runs_total', { trigger: 'request', outcome: 'cancelled' })) === 1
          ? true
          : undefined,
      30_000,
    );
    const skipped =
      (await metric(c, 'infercache_warm_rows_total', { kind: 'f', result: 'skipped' })) - before;
    expect(skipped).toBeGreaterThan(RANKED / 2);
  });
});

describe('warming is not a lookup', () => {
  let dir: string;
  let s: Sidecar;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warming-lookup-'));
    s = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      env: {
        INFERCACHE_FEATURE_VIEWS: await modelRepository(dir),
        INFERCACHE_POPULARITY_PUBLISH_MS: '1000',
        INFERCACHE_WARM_START_BUDGET_MS: '0',
      },
    });
    await put(s, [201, 202, 203, 204, 205]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a Warm that computes predictions and embeddings leaves the popularity ranking to the lookups', async () => {
    const run = warm(s, { view: VIEW, entities: ids(201, 202, 203) });
    expect(await run.ended).toBeUndefined();
    expect(await metric(s, 'infercache_warm_rows_total', { kind: 'e', result: 'warmed' })).toBe(3);
    expect(await metric(s, 'infercache_warm_rows_total', { kind: 'p', result: 'warmed' })).toBe(3);
    // One lookup after the warm: once it is in the fleet ranking, so is whatever the warm counted.
    await sourcesOf(s, 205);
    const key = `${s.keyPrefix}:popular:${VIEW}`;
    const ranked = await eventually(
      'the lookup to reach the fleet ranking',
      async () => {
        const members = (await redis('ZRANGE', key, '0', '-1')) as string[];
        return members.length > 0 ? members : undefined;
      },
      30_000,
    );
    expect(ranked).toEqual(['["205"]']);
  });
});

describe('warming on a schedule', () => {
  let dir: string;
  let s: Sidecar;
  const prefix = `icsched-${process.pid}-${Date.now().toString(36)}`;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warming-schedule-'));
    const views = await modelRepository(dir);
    // The fleet ranks 303 first, then 302 and 301; 304 is not ranked.
    await redis('ZADD', `${prefix}:popular:${VIEW}`, '30', '["303"]', '20', '["302"]', '10', '["301"]');
    s = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      keyPrefix: prefix,
      env: {
        INFERCACHE_FEATURE_VIEWS: views,
        INFERCACHE_WARM_START_BUDGET_MS: '0',
        INFERCACHE_WARM_INTERVAL_MS: '1000',
      },
    });
    await put(s, [301, 302, 303, 304]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('warms the fleet top entities every INFERCACHE_WARM_INTERVAL_MS, with no call asking', async () => {
    const runs = () => metric(s, 'infercache_warm_runs_total', { trigger: 'schedule', outcome: 'done' });
    const predicted = () => metric(s, 'infercache_warm_rows_total', { kind: 'p', result: 'warmed' });
    // Twice the three ranked entities' predictions: two warms since their rows were written.
    await eventually(
      'two scheduled warms of the rows',
      async () => ((await predicted()) >= 6 ? true : undefined),
      30_000,
    );
    expect(await runs()).toBeGreaterThanOrEqual(2);
    expect(await metric(s, 'infercache_warm_seconds_total', { trigger: 'schedule' })).toBeGreaterThan(0);
    // Predictions nobody asked for are in L1: the schedule computed them.
    expect(await predictSources(s, 301, 302, 303, 304)).toEqual([SRC.L1, SRC.L1, SRC.L1, SRC.MODEL]);
  });
});

describe('warming without Redis', () => {
  let dir: string;
  let s: Sidecar;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-warming-local-'));
    s = await startSidecar({
      redisUrl: '',
      modelsDir: dir,
      env: {
        INFERCACHE_FEATURE_VIEWS: await modelRepository(dir),
        INFERCACHE_L1_SNAPSHOT: 'off',
        INFERCACHE_WARM_START_BUDGET_MS: '0',
      },
    });
    await put(s, [401, 402, 403, 404]);
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Warm with top N warms the most looked-up entities of the sidecar’s own ranking, and says so', async () => {
    for (let i = 0; i < 3; i++) await sourcesOf(s, 402);
    for (let i = 0; i < 2; i++) await sourcesOf(s, 401);
    await sourcesOf(s, 403);
    const run = warm(s, { view: VIEW, top: 2 });
    expect(await run.ended).toBeUndefined();
    expect(run.messages.at(-1)).toMatchObject({
      rows_done: '2',
      rows_total: '2',
      done: true,
      ranking: 'local',
    });
    expect(s.logs().find((l) => l.msg === 'Warm of the most popular entities')).toMatchObject({
      view: VIEW,
      top: 2,
      ranking: 'local',
      entities: 2,
    });
    // The top two have their predictions computed; the third has not.
    expect(await predictSources(s, 402, 401, 403)).toEqual([SRC.L1, SRC.L1, SRC.MODEL]);
  });
});
