import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { irisRequest, irisRows, SRC, sleep } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const WINDOW = 50;

/**
 * The decision made certain by the settings: a window of 50 rows, a
 * threshold distinct rows cannot reach (they never hit), and a run that
 * counts as cheap below a million L2 round trips, so the measured costs,
 * which vary with the machine's load, cannot change the outcome. That the
 * comparison of costs itself decides is tested in test/predict/auto_bypass.test.ts.
 */
function autoBypassEnv(recheckMs: number): Record<string, string> {
  return {
    INFERCACHE_AUTO_BYPASS_HIT_RATIO: '0.5',
    INFERCACHE_AUTO_BYPASS_WINDOW_ROWS: String(WINDOW),
    INFERCACHE_AUTO_BYPASS_RECHECK_MS: String(recheckMs),
    INFERCACHE_AUTO_BYPASS_ROUND_TRIPS: '1000000',
  };
}

async function irisBypassed(sidecar: Sidecar): Promise<boolean | undefined> {
  const { models } = await sidecar.client.listModels();
  return models.find((m) => m.name === 'iris')?.versions.find((v) => v.version === '1')?.auto_bypassed;
}

/** Sends `rows` one row per call; returns each call's row source. */
async function oneByOne(sidecar: Sidecar, rows: number[][]): Promise<number[]> {
  const sources: number[] = [];
  for (const row of rows) sources.push(...(await sidecar.client.predict(irisRequest([row]))).row_sources);
  return sources;
}

const l1Lookups = (body: string) =>
  (metricValue(body, 'infercache_cache_lookups_total', { kind: 'p', tier: 'l1', result: 'hit' }) ?? 0) +
  (metricValue(body, 'infercache_cache_lookups_total', { kind: 'p', tier: 'l1', result: 'miss' }) ?? 0);

describe('auto-bypass, end to end with Redis', () => {
  afterAll(stopAllSidecars);

  describe('a window of distinct rows', () => {
    let sidecar: Sidecar;
    const rows = irisRows(WINDOW);
    beforeAll(async () => {
      sidecar = await startSidecar({ redisUrl: sharedRedisUrl(), env: autoBypassEnv(600_000) });
    });

    it('caches until the window is full, then bypasses the version: no lookups, no stores, answered by the model', async () => {
      expect(await oneByOne(sidecar, rows.slice(0, WINDOW - 1))).toEqual(
        new Array(WINDOW - 1).fill(SRC.MODEL),
      );
      expect(await irisBypassed(sidecar)).toBe(false);
      expect(await oneByOne(sidecar, [rows[0] as number[]])).toEqual([SRC.L1]);
      expect(await irisBypassed(sidecar)).toBe(true);

      const redis = redisClient(sharedRedisUrl());
      try {
        const before = await sidecar.metrics();
        const keysBefore = await keysUnder(redis, sidecar.keyPrefix);
        // A row L1 holds, and a new one: both run, neither is looked up or stored.
        const fresh = irisRows(1);
        const sources = await oneByOne(sidecar, [rows[1] as number[], ...fresh]);
        expect(sources).toEqual([SRC.MODEL, SRC.MODEL]);
        const after = await sidecar.metrics();
        expect(l1Lookups(after)).toBe(l1Lookups(before));
        expect(metricValue(after, 'infercache_auto_bypassed_rows_total', { model: 'iris' })).toBe(2);
        expect(metricValue(after, 'infercache_auto_bypassed', { model: 'iris', version: '1' })).toBe(1);
        await sleep(200); // L2 writes are made in the background: give a wrong one time to land.
        expect(await keysUnder(redis, sidecar.keyPrefix)).toEqual(keysBefore);
      } finally {
        redis.disconnect();
      }
    });

    it('still serves a caller who asks for bypass itself, without counting its rows as auto-bypassed', async () => {
      const before = await sidecar.metrics();
      const reply = await sidecar.client.predict(irisRequest(irisRows(3), { cache: { bypass: true } }));
      expect(reply.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
      const after = await sidecar.metrics();
      const counted = (b: string) => metricValue(b, 'infercache_auto_bypassed_rows_total', { model: 'iris' });
      expect(counted(after)).toBe(counted(before));
    });
  });

  describe('after the recheck interval', () => {
    let sidecar: Sidecar;
    beforeAll(async () => {
      sidecar = await startSidecar({ redisUrl: sharedRedisUrl(), env: autoBypassEnv(100) });
    });

    it('caches again for one window, and a window that hits ends the bypass', async () => {
      const rows = irisRows(WINDOW);
      await oneByOne(sidecar, rows);
      const repeated = rows[0] as number[];
      // Rows asked while bypassed come from the model; the first one past the
      // interval starts a window, and the repeated row is in L1 again.
      let first: number | undefined;
      for (let attempt = 0; attempt < 200 && first !== SRC.L1; attempt++) {
        [first] = await oneByOne(sidecar, [repeated]);
        if (first !== SRC.L1) await sleep(50);
      }
      expect(first).toBe(SRC.L1);
      const rest = await oneByOne(sidecar, new Array(WINDOW - 1).fill(repeated));
      expect(rest).toEqual(new Array(WINDOW - 1).fill(SRC.L1));
      expect(await irisBypassed(sidecar)).toBe(false);
      const body = await sidecar.metrics();
      expect(metricValue(body, 'infercache_auto_bypassed', { model: 'iris', version: '1' })).toBe(0);
      expect(metricValue(body, 'infercache_auto_bypassed_rows_total', { model: 'iris' })).toBeGreaterThan(0);
    });
  });

  describe('with no Redis', () => {
    let sidecar: Sidecar;
    beforeAll(async () => {
      sidecar = await startSidecar({ redisUrl: '', env: autoBypassEnv(600_000) });
    });

    it('never bypasses: there is no round trip to save', async () => {
      const rows = irisRows(WINDOW);
      await oneByOne(sidecar, rows);
      expect(await oneByOne(sidecar, [rows[0] as number[]])).toEqual([SRC.L1]);
      expect(await irisBypassed(sidecar)).toBe(false);
    });
  });
});
