import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FS,
  featureOf,
  freshIds,
  irisOnlyModels,
  ST,
  stringIds,
  viewOf,
  viewsFile,
} from '../helpers/features.js';
import { metricValue } from '../helpers/metrics.js';
import { json, type OriginHandler, type OriginServer, startOriginServer } from '../helpers/origin_server.js';
import { irisRequest, irisRows, SRC, sleep } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('early refresh of cached predictions', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    // L1 only, rows living 4 s, and a beta that makes a refresh all but
    // certain in the last seconds of a row's life when it is read often.
    sidecar = await startSidecar({
      redisUrl: '',
      env: { INFERCACHE_L1_TTL_MS: '4000', INFERCACHE_EARLY_REFRESH_BETA: '100' },
    });
  });
  afterAll(stopAllSidecars);

  it('keeps a row read often cached past its lifetime: recomputed in the background, never a miss', async () => {
    const request = irisRequest(irisRows(1).map((r) => r.map((x) => x + 0.125)));
    expect((await sidecar.client.predict(request)).row_sources).toEqual([SRC.MODEL]);
    const sources: number[] = [];
    // Three lifetimes of the row.
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      sources.push(...(await sidecar.client.predict(request)).row_sources);
      await sleep(50);
    }
    expect(sources.filter((s) => s !== SRC.L1)).toEqual([]);
    const refreshed = metricValue(await sidecar.metrics(), 'infercache_early_refreshes_total', {
      kind: 'p',
      result: 'ok',
    });
    expect(refreshed).toBeGreaterThanOrEqual(2);
  });
});

describe('early refresh of feature rows of a view with an origin', () => {
  let sidecar: Sidecar;
  let origin: OriginServer;
  // Rows the origin gives are true as of the moment it answers, and pass max_age 3 s later.
  const answerNow =
    (score: number): OriginHandler =>
    (req, res) =>
      json(res, { rows: req.entities.map(() => ({ event_time_ms: Date.now(), features: { score } })) });
  const ask = (id: string) =>
    sidecar.client.getFeatures({ features: ['quick'], entities: stringIds('user_id', [id]) });
  const refreshes = async (result: string) =>
    metricValue(await sidecar.metrics(), 'infercache_early_refreshes_total', { kind: 'f', result }) ?? 0;

  beforeAll(async () => {
    origin = await startOriginServer();
    const views = viewsFile([
      {
        name: 'quick',
        entities: [{ name: 'user_id', type: 'string' }],
        features: [{ name: 'score', type: 'float64' }],
        max_age: '3s',
        origin: { url: origin.url('quick'), timeout: '2s' },
      },
    ]);
    // A beta that makes a refresh all but certain in the last few hundred ms
    // of a row's freshness when it is read often (a local origin answers in ms).
    sidecar = await startSidecar({
      redisUrl: sharedRedisUrl(),
      keyPrefix: `refresh-${randomBytes(5).toString('hex')}`,
      modelsDir: await irisOnlyModels(),
      env: { INFERCACHE_FEATURE_VIEWS: views, INFERCACHE_EARLY_REFRESH_BETA: '100' },
    });
  });
  afterAll(async () => {
    await stopAllSidecars();
    await origin?.close();
  });

  it('keeps a row read often fresh past max_age: asked of the origin in the background, never served stale or from the origin', async () => {
    origin.route('quick', answerNow(1));
    const [id] = freshIds(1, 'quick') as [string];
    expect(viewOf(await ask(id), 'quick').sources).toEqual([FS.ORIGIN]);
    const sources: number[] = [];
    const statuses: number[] = [];
    // Three lifetimes of the row.
    const until = Date.now() + 9000;
    while (Date.now() < until) {
      const res = await ask(id);
      sources.push(...viewOf(res, 'quick').sources);
      statuses.push(...featureOf(res, 'quick:score').statuses);
      await sleep(50);
    }
    expect(sources.filter((s) => s !== FS.L1 && s !== FS.L2)).toEqual([]);
    expect(statuses.filter((s) => s !== ST.PRESENT)).toEqual([]);
    expect(await refreshes('ok')).toBeGreaterThanOrEqual(2);
    expect(origin.asked('quick').filter((x) => x === id).length).toBeGreaterThanOrEqual(3);
  });

  it('counts a refresh the origin fails as failed, and serves the row STALE once it passes max_age', async () => {
    origin.route('quick', answerNow(2));
    const [id] = freshIds(1, 'quick-down') as [string];
    await ask(id);
    origin.route('quick', (_req, res) => json(res, { error: 'down' }, 503));
    const failedBefore = await refreshes('failed');
    const statuses: number[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      statuses.push(...featureOf(await ask(id), 'quick:score').statuses);
      await sleep(50);
    }
    expect(await refreshes('failed')).toBeGreaterThan(failedBefore);
    expect(statuses[0]).toBe(ST.PRESENT);
    expect(statuses.at(-1)).toBe(ST.STALE);
  });
});
