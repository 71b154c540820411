import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Origin, OriginError } from '../../src/features/origin.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import type { PutFeaturesRequest } from '../helpers/client.js';
import {
  FS,
  FT,
  featureOf,
  freshIds,
  irisOnlyModels,
  ST,
  stringIds,
  viewOf,
  viewsFile,
} from '../helpers/features.js';
import { metricValue } from '../helpers/metrics.js';
import { json, type OriginRequest, type OriginServer, startOriginServer } from '../helpers/origin_server.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { eventually, grpcError, sleep } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const USER = 'user_id';
const FEATURES = [
  { name: 'score', type: 'float64' },
  { name: 'tag', type: 'string' },
  { name: 'big', type: 'int64' },
  { name: 'vec', type: 'float32_vector', dim: 2 },
];

/** What the origin answers for `id`: a row, or null for ids starting with "none". */
function originRow(id: string, eventTime: number, score = 1.5) {
  if (id.startsWith('none')) return null;
  return {
    event_time_ms: eventTime,
    features: { score, tag: `t-${id}`, big: '9007199254740993', vec: [1, 2] },
  };
}
const idsOf = (req: OriginRequest) => req.entities.map((e) => String(e[USER]));
const answerRows =
  (eventTime = Date.now(), score = 1.5) =>
  (req: OriginRequest, res: ServerResponse) =>
    json(res, { rows: idsOf(req).map((id) => originRow(id, eventTime, score)) });

/** A put of `score` (the other features null) for string-keyed `view`. */
const putScores = (view: string, ids: string[], scores: number[], eventTime: number): PutFeaturesRequest => ({
  view,
  entities: stringIds(USER, ids),
  features: [{ name: 'score', type: FT.FLOAT64, float64_values: scores }],
  event_time_ms: ids.map(() => eventTime),
});

async function metric(s: Sidecar, name: string, labels: Record<string, string>): Promise<number> {
  return metricValue(await s.metrics(), name, labels) ?? 0;
}
const originCalls = (s: Sidecar, view: string, outcome: string) =>
  metric(s, 'infercache_feature_origin_calls_total', { view, outcome });

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('a view with an origin', () => {
  const keyPrefix = `origin-${randomBytes(5).toString('hex')}`;
  let origin: OriginServer;
  let redis: Redis;
  let s1: Sidecar;
  let s2: Sidecar;
  const ask = (s: Sidecar, view: string, ids: string[]) =>
    s.client.getFeatures({ features: [view], entities: stringIds(USER, ids) });

  beforeAll(async () => {
    origin = await startOriginServer();
    redis = redisClient(sharedRedisUrl());
    const view = (name: string, more: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
      name,
      entities: [{ name: USER, type: 'string' }],
      features: FEATURES,
      max_age: '1h',
      not_found_ttl: '700ms',
      origin: { url: origin.url(name), timeout: '2s', ...more },
      ...spec,
    });
    const file = viewsFile([
      view('o_rows', { max_batch: 3, concurrency: 2 }),
      view('o_conc', { max_batch: 1, concurrency: 2 }),
      view('o_timeout', { timeout: '200ms' }),
      view('o_bad'),
      view('o_stale', { serve_stale_on_error: true }),
      view('o_strict', { serve_stale_on_error: false }),
      view('o_grace', { stale_grace: '30m' }),
      view('o_each', { max_batch: 1, concurrency: 4 }),
    ]);
    const modelsDir = await irisOnlyModels();
    const env = {
      INFERCACHE_FEATURE_VIEWS: file,
      INFERCACHE_L2_TTL_JITTER: '0',
      INFERCACHE_L2_TIMEOUT_MS: '5000',
    };
    const start = () => startSidecar({ redisUrl: sharedRedisUrl(), keyPrefix, modelsDir, env });
    [s1, s2] = await Promise.all([start(), start()]);
    await Promise.all([s1, s2].map((s) => s.waitForLog((l) => l.msg === 'L2 connected')));
  });
  afterAll(async () => {
    await stopAllSidecars();
    await origin?.close();
    redis?.disconnect();
  });

  it('is asked only for the rows no tier has, max_batch entities per request, and its rows are served', async () => {
    const [h1, h2] = freshIds(2, 'hit') as [string, string];
    const misses = freshIds(5, 'miss');
    await s2.client.putFeatures(putScores('o_rows', [h1, h2], [7, 8], Date.now()));
    const eventTime = Date.now() - 1000;
    origin.route('o_rows', answerRows(eventTime));
    const asked = origin.requests.length;

    const res = await ask(s1, 'o_rows', [h1, ...misses.slice(0, 2), h2, ...misses.slice(2)]);
    const sent = origin.requests.slice(asked);
    expect(sent.every((r) => r.view === 'o_rows')).toBe(true);
    expect(
      sent.map(idsOf).sort((x, y) => x.length - y.length || (x[0] as string).localeCompare(y[0] as string)),
    ).toEqual([misses.slice(3), misses.slice(0, 3)]);
    expect(viewOf(res, 'o_rows').sources).toEqual([
      FS.L2,
      FS.ORIGIN,
      FS.ORIGIN,
      FS.L2,
      FS.ORIGIN,
      FS.ORIGIN,
      FS.ORIGIN,
    ]);
    expect(featureOf(res, 'o_rows:score').float64_values).toEqual([7, 1.5, 1.5, 8, 1.5, 1.5, 1.5]);
    expect(featureOf(res, 'o_rows:tag').bytes_values.map(String)).toEqual([
      '',
      `t-${misses[0]}`,
      `t-${misses[1]}`,
      '',
      `t-${misses[2]}`,
      `t-${misses[3]}`,
      `t-${misses[4]}`,
    ]);
    expect(featureOf(res, 'o_rows:big').int64_values.slice(1, 3)).toEqual([
      '9007199254740993',
      '9007199254740993',
    ]);
    expect(featureOf(res, 'o_rows:vec').float32_values.slice(2, 6)).toEqual([1, 2, 1, 2]);
    expect(viewOf(res, 'o_rows').event_time_ms[1]).toBe(String(eventTime));
    expect(featureOf(res, 'o_rows:score').statuses.every((s) => s === ST.PRESENT)).toBe(true);

    expect(await originCalls(s1, 'o_rows', 'ok')).toBe(2);
    const m = await s1.metrics();
    expect(metricValue(m, 'infercache_feature_origin_duration_seconds_count', { view: 'o_rows' })).toBe(2);
    expect(metricValue(m, 'infercache_feature_rows_total', { view: 'o_rows', source: 'origin' })).toBe(5);
    expect(metricValue(m, 'infercache_feature_rows_total', { view: 'o_rows', source: 'l2' })).toBe(2);
    const values = (source: string, status: string) =>
      metricValue(m, 'infercache_feature_values_total', { view: 'o_rows', source, status });
    expect(values('origin', 'present')).toBe(5 * FEATURES.length);
    // The rows put hold a score only.
    expect([values('l2', 'present'), values('l2', 'null_value')]).toEqual([2, 2 * (FEATURES.length - 1)]);
  });

  it('stores the rows the origin gave: another sidecar reads them from L2 without asking it', async () => {
    const ids = freshIds(3, 'stored');
    origin.route('o_rows', answerRows());
    await ask(s1, 'o_rows', ids);
    await eventually('the rows in Redis', async () => {
      const keys = await keysUnder(redis, `${keyPrefix}:f:o_rows`);
      return keys.length >= 10 ? keys : undefined;
    });
    const asked = origin.requests.length;
    const res = await ask(s2, 'o_rows', ids);
    expect(viewOf(res, 'o_rows').sources).toEqual([FS.L2, FS.L2, FS.L2]);
    expect(featureOf(res, 'o_rows:tag').bytes_values.map(String)).toEqual(ids.map((id) => `t-${id}`));
    expect(origin.requests.length).toBe(asked);
  });

  it('never has more than its concurrency of requests in flight', async () => {
    origin.route('o_conc', async (req, res) => {
      await sleep(150);
      answerRows()(req, res);
    });
    const res = await ask(s1, 'o_conc', freshIds(6, 'conc'));
    expect(featureOf(res, 'o_conc:score').statuses).toEqual(new Array(6).fill(ST.PRESENT));
    expect(origin.asked('o_conc')).toHaveLength(6);
    expect(origin.inFlight('o_conc').max).toBe(2);
  });

  it('is asked once for an entity two concurrent calls both miss', async () => {
    const [id] = freshIds(1, 'once') as [string];
    const gate = deferred();
    origin.route('o_rows', async (req, res) => {
      if (idsOf(req).includes(id)) await gate.promise;
      answerRows()(req, res);
    });
    const first = ask(s1, 'o_rows', [id]);
    await eventually('the origin to be asked', async () => origin.asked('o_rows').includes(id) || undefined);
    const second = ask(s1, 'o_rows', [id]);
    // Long enough for the second call to find the first one's computation and wait on it.
    await sleep(150);
    gate.resolve();
    const answers = await Promise.all([first, second]);
    for (const res of answers) {
      expect(featureOf(res, 'o_rows:tag').bytes_values.map(String)).toEqual([`t-${id}`]);
      expect(viewOf(res, 'o_rows').sources).toEqual([FS.ORIGIN]);
    }
    expect(origin.asked('o_rows').filter((x) => x === id)).toHaveLength(1);
  });

  it('remembers an entity the origin does not know (a null row) as NOT_FOUND for not_found_ttl, then asks again', async () => {
    const [id] = freshIds(1, 'none') as [string];
    origin.route('o_rows', answerRows());
    const first = await ask(s1, 'o_rows', [id]);
    const firstAt = Date.now();
    expect(featureOf(first, 'o_rows:score').statuses).toEqual([ST.NOT_FOUND]);
    expect(viewOf(first, 'o_rows')).toMatchObject({ sources: [FS.NONE], event_time_ms: ['0'] });
    expect(origin.asked('o_rows').filter((x) => x === id)).toHaveLength(1);

    const again = await ask(s1, 'o_rows', [id]);
    expect(featureOf(again, 'o_rows:score').statuses).toEqual([ST.NOT_FOUND]);
    expect(origin.asked('o_rows').filter((x) => x === id)).toHaveLength(1);

    await sleep(firstAt + 800 - Date.now());
    await ask(s1, 'o_rows', [id]);
    expect(origin.asked('o_rows').filter((x) => x === id)).toHaveLength(2);
  });

  it('answers UNAVAILABLE naming the view when the origin does not answer within its timeout', async () => {
    const held: ServerResponse[] = [];
    origin.route('o_timeout', (_req, res) => {
      held.push(res);
    });
    const started = Date.now();
    const error = await grpcError(ask(s1, 'o_timeout', freshIds(1, 'slow')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('E_UNAVAILABLE: origin of view o_timeout: no answer within 200 ms');
    expect(await originCalls(s1, 'o_timeout', 'timeout')).toBe(1);
    for (const res of held) res.destroy();
  });

  it('answers UNAVAILABLE naming the view when the origin answers an HTTP error', async () => {
    origin.route('o_bad', (_req, res) => json(res, { error: 'boom' }, 500));
    const error = await grpcError(ask(s1, 'o_bad', freshIds(1, 'http')));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('E_UNAVAILABLE: origin of view o_bad answered HTTP 500');
    expect(await originCalls(s1, 'o_bad', 'http')).toBe(1);
  });

  describe('answers UNAVAILABLE naming the view, counted as malformed, when the origin answers', () => {
    const row = (features: Record<string, unknown>, eventTime: unknown = Date.now()) => ({
      rows: [{ event_time_ms: eventTime, features }],
    });
    it.each<[string, (res: ServerResponse) => void, RegExp]>([
      [
        'JSON cut short',
        (res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"rows": [{"event_');
        },
        /^E_UNAVAILABLE: origin of view o_bad: .*JSON/,
      ],
      [
        'no rows',
        (res) => json(res, { rows: [] }),
        /^E_UNAVAILABLE: origin of view o_bad: expected \{"rows": \[\.\.\.\]\} with 1 entries$/,
      ],
      [
        'something else than {"rows": [...]}',
        (res) => json(res, [1]),
        /^E_UNAVAILABLE: origin of view o_bad: expected \{"rows": \[\.\.\.\]\} with 1 entries$/,
      ],
      [
        'a value of the wrong type',
        (res) => json(res, row({ score: 'high' })),
        /^E_UNAVAILABLE: origin of view o_bad: row 0: feature "score" is not float64$/,
      ],
      [
        'a vector of the wrong dimension',
        (res) => json(res, row({ vec: [1, 2, 3] })),
        /^E_UNAVAILABLE: origin of view o_bad: row 0: feature "vec" is not float32_vector$/,
      ],
      [
        'an int64 that is not an integer',
        (res) => json(res, row({ big: 1.5 })),
        /^E_UNAVAILABLE: origin of view o_bad: row 0: feature "big" is not int64$/,
      ],
      [
        'an event time that is not a number',
        (res) => json(res, row({}, '')),
        /^E_UNAVAILABLE: origin of view o_bad: row 0: bad event_time_ms$/,
      ],
      [
        'a row without features',
        (res) => json(res, { rows: [{ event_time_ms: Date.now() }] }),
        /^E_UNAVAILABLE: origin of view o_bad: row 0: no features$/,
      ],
      [
        'a declared length over 16 MiB',
        (res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 17 * 1024 * 1024 });
          res.write('{"rows": [');
        },
        /^E_UNAVAILABLE: origin of view o_bad: answer of 17825792 bytes; at most 16777216$/,
      ],
      [
        'over 16 MiB without a declared length (chunked)',
        (res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(1024 * 1024, 0x20);
          let sent = 0;
          const more = () => {
            while (sent < 20 && res.write(chunk)) sent++;
            if (sent < 20) res.once('drain', more);
            else res.end();
          };
          res.write('{"rows": [');
          more();
        },
        /^E_UNAVAILABLE: origin of view o_bad: answer longer than 16777216 bytes$/,
      ],
    ])('%s', async (_what, answer, message) => {
      origin.route('o_bad', (_req, res) => answer(res));
      const before = await originCalls(s1, 'o_bad', 'malformed');
      const error = await grpcError(ask(s1, 'o_bad', freshIds(1, 'bad')));
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toMatch(message);
      expect(await originCalls(s1, 'o_bad', 'malformed')).toBe(before + 1);
    });
  });

  it('is asked for a fresh row when the stored one is past max_age, and its row is served', async () => {
    const [id] = freshIds(1, 'refresh') as [string];
    await s1.client.putFeatures(putScores('o_stale', [id], [42], Date.now() - 2 * 3_600_000));
    const eventTime = Date.now() - 1000;
    origin.route('o_stale', answerRows(eventTime, 99));
    const res = await ask(s1, 'o_stale', [id]);
    expect(origin.asked('o_stale')).toEqual([id]);
    expect(viewOf(res, 'o_stale')).toMatchObject({
      sources: [FS.ORIGIN],
      event_time_ms: [String(eventTime)],
    });
    expect(featureOf(res, 'o_stale:score')).toMatchObject({ float64_values: [99], statuses: [ST.PRESENT] });
  });

  it('serves the stored row past max_age, marked STALE and from the tier it was in, when the origin fails and serve_stale_on_error is on; it is not stored again', async () => {
    const [id] = freshIds(1, 'stale') as [string];
    // Past max_age (1h), within the default stale grace (ttl - max_age: 1h).
    const old = Date.now() - 90 * 60_000;
    await s1.client.putFeatures(putScores('o_stale', [id], [42], old));
    origin.route('o_stale', (_req, res) => json(res, { error: 'down' }, 503));
    const sets = () => metric(s1, 'infercache_redis_operation_duration_seconds_count', { op: 'set' });
    const [setsBefore, failuresBefore] = [await sets(), await originCalls(s1, 'o_stale', 'http')];

    for (let call = 1; call <= 2; call++) {
      const res = await ask(s1, 'o_stale', [id]);
      expect(featureOf(res, 'o_stale:score')).toMatchObject({
        float64_values: [42],
        statuses: [ST.STALE],
      });
      // Every value of the row, the null ones too.
      expect(featureOf(res, 'o_stale:tag').statuses).toEqual([ST.STALE]);
      expect(viewOf(res, 'o_stale')).toMatchObject({ sources: [FS.L2], event_time_ms: [String(old)] });
      // Not stored: the next call finds it stale again and asks the origin again.
      expect(await originCalls(s1, 'o_stale', 'http')).toBe(failuresBefore + call);
    }
    await sleep(100);
    expect(await sets()).toBe(setsBefore);
    expect(await metric(s1, 'infercache_feature_rows_total', { view: 'o_stale', source: 'origin' })).toBe(1);
    const values = (source: string, status: string) =>
      metric(s1, 'infercache_feature_values_total', { view: 'o_stale', source, status });
    expect(await values('l2', 'stale')).toBe(2 * FEATURES.length);
    expect(await values('l2', 'outside_max_age')).toBe(0);
  });

  it("serves a stored row STALE on the origin's failure only within stale_grace past max_age; older, the call answers UNAVAILABLE", async () => {
    const [recent, old] = freshIds(2, 'grace') as [string, string];
    const hour = 3_600_000;
    await s1.client.putFeatures(putScores('o_grace', [recent], [1], Date.now() - hour - 20 * 60_000));
    await s1.client.putFeatures(putScores('o_grace', [old], [2], Date.now() - hour - 40 * 60_000));
    origin.route('o_grace', (_req, res) => json(res, { error: 'down' }, 503));

    const res = await ask(s1, 'o_grace', [recent]);
    expect(featureOf(res, 'o_grace:score')).toMatchObject({ float64_values: [1], statuses: [ST.STALE] });
    const error = await grpcError(ask(s1, 'o_grace', [old]));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('E_UNAVAILABLE: origin of view o_grace answered HTTP 503');
  });

  it('falls back row by row: a row whose origin request failed is served STALE while the rows the origin gave are served fresh', async () => {
    const [down, up, fresh] = freshIds(3, 'each') as [string, string, string];
    const old = Date.now() - 90 * 60_000;
    await s1.client.putFeatures(putScores('o_each', [down, up], [1, 2], old));
    // One entity per request (max_batch 1): only the request carrying `down` fails.
    origin.route('o_each', (req, res) =>
      idsOf(req).includes(down) ? json(res, { error: 'down' }, 503) : answerRows(Date.now(), 7)(req, res),
    );
    const res = await ask(s1, 'o_each', [down, up, fresh]);
    expect(viewOf(res, 'o_each')).toMatchObject({
      sources: [FS.L2, FS.ORIGIN, FS.ORIGIN],
      event_time_ms: [String(old), expect.any(String), expect.any(String)],
    });
    expect(featureOf(res, 'o_each:score')).toMatchObject({
      float64_values: [1, 7, 7],
      statuses: [ST.STALE, ST.PRESENT, ST.PRESENT],
    });
  });

  it('answers UNAVAILABLE when a row the origin failed to give has no stored copy, even if the others have one: it may exist, and NOT_FOUND would say it does not', async () => {
    const [stored, unknown] = freshIds(2, 'each-none') as [string, string];
    await s1.client.putFeatures(putScores('o_each', [stored], [1], Date.now() - 90 * 60_000));
    origin.route('o_each', (_req, res) => json(res, { error: 'down' }, 503));
    const error = await grpcError(ask(s1, 'o_each', [stored, unknown]));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('E_UNAVAILABLE: origin of view o_each answered HTTP 503');
  });

  it('answers UNAVAILABLE naming the view when the origin fails and serve_stale_on_error is off', async () => {
    const [id] = freshIds(1, 'strict') as [string];
    await s1.client.putFeatures(putScores('o_strict', [id], [42], Date.now() - 2 * 3_600_000));
    origin.route('o_strict', (_req, res) => json(res, { error: 'down' }, 503));
    const error = await grpcError(ask(s1, 'o_strict', [id]));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toBe('E_UNAVAILABLE: origin of view o_strict answered HTTP 503');
  });
});

describe('the origin client', () => {
  let server: OriginServer;
  beforeAll(async () => {
    server = await startOriginServer();
  });
  afterAll(() => server?.close());

  function viewWith(features: { name: string; type: 'float64' | 'bool' }[], origin: Record<string, unknown>) {
    const view = toFeatureView(
      {
        name: 'u',
        entities: [{ name: 'id', type: 'string' }],
        features,
        max_age: 60_000,
        origin: {
          url: String(origin.url),
          timeout: 5000,
          concurrency: 1,
          max_batch: 100,
          serve_stale_on_error: true,
          ...origin,
        },
      },
      { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
    );
    return { view, client: new Origin(view, view.origin as NonNullable<FeatureView['origin']>, () => {}) };
  }

  it('lets a call that ends while waiting for a free request slot leave at once, never sending it', async () => {
    const release = deferred();
    server.route('slot', async (req, res) => {
      await release.promise;
      answerRows()(req, res);
    });
    const { client } = viewWith([{ name: 'score', type: 'float64' }], { url: server.url('slot') });
    const first = client.fetch([['a']], new AbortController().signal, Date.now());
    await eventually('the first request', async () => server.asked('slot').includes('a') || undefined);

    const ended = new AbortController();
    const second = client.fetch([['b']], ended.signal, Date.now());
    setTimeout(() => ended.abort(), 50);
    // The slot would be free only once the first request is answered, 1 s from now.
    const releaseTimer = setTimeout(() => release.resolve(), 1000);
    const started = Date.now();
    const [error] = await second;
    expect(error).toBeInstanceOf(OriginError);
    expect((error as OriginError).reason).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(500);

    clearTimeout(releaseTimer);
    release.resolve();
    expect((await first)[0]).toMatchObject({ values: [1.5] });
    // The slot is free again, and the ended call was never sent.
    expect((await client.fetch([['c']], new AbortController().signal, Date.now()))[0]).toMatchObject({
      values: [1.5],
    });
    expect(server.asked('slot')).toEqual(['a', 'c']);
  });

  it('answers each entity with the failure of its own request only: the entities of the requests that succeeded get their rows', async () => {
    // The client's view is keyed by "id".
    const ids = (req: OriginRequest) => req.entities.map((e) => String(e.id));
    server.route('each', (req, res) =>
      ids(req).includes('b')
        ? json(res, { error: 'no' }, 500)
        : json(res, { rows: ids(req).map((id) => originRow(id, 1_700_000_000_000)) }),
    );
    const { client } = viewWith([{ name: 'score', type: 'float64' }], {
      url: server.url('each'),
      max_batch: 2,
      concurrency: 2,
    });
    const got = await client.fetch([['a'], ['b'], ['c'], ['none-d'], ['e']], new AbortController().signal, 0);
    expect(got[0]).toBeInstanceOf(OriginError);
    expect(got[1]).toBe(got[0]);
    expect((got[0] as OriginError).reason).toBe('http');
    expect(got[2]).toMatchObject({ values: [1.5] });
    expect(got[3]).toBeUndefined();
    expect(got[4]).toMatchObject({ values: [1.5] });
  });

  it('reads a feature named like a property of every object as null when the origin leaves it out', async () => {
    server.route('names', (req, res) =>
      json(res, {
        rows: idsOf(req).map(() => ({ event_time_ms: 1_700_000_000_000, features: { score: 2 } })),
      }),
    );
    const { client } = viewWith(
      [
        { name: 'constructor', type: 'float64' },
        { name: 'toString', type: 'bool' },
        { name: 'score', type: 'float64' },
      ],
      { url: server.url('names') },
    );
    const [row] = await client.fetch([['x']], new AbortController().signal, Date.now());
    expect(row).toMatchObject({ eventTime: 1_700_000_000_000, values: [null, null, 2] });
  });
});
