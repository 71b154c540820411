import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { eventually, irisRequest, irisRows, rawOf, SRC, sleep } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('Predict honours CacheControl', () => {
  let sidecar: Sidecar;
  let redis: Redis;

  beforeAll(async () => {
    redis = redisClient(sharedRedisUrl());
    sidecar = await startSidecar({ redisUrl: sharedRedisUrl() });
    // SERVING does not wait for Redis; the L2 checks below need the connection.
    await sidecar.waitForLog((l) => l.msg === 'L2 connected');
  });
  afterAll(async () => {
    await stopAllSidecars();
    redis?.disconnect();
  });

  const l2Keys = () => keysUnder(redis, sidecar.keyPrefix);

  /**
   * Stores one fresh row with a normal call and waits until its L2 write is
   * visible. L2 writes go out in order on one connection, so once this one
   * landed, any write an earlier call had queued has landed too.
   */
  async function flushL2Writes(): Promise<string[]> {
    const before = new Set(await l2Keys());
    await sidecar.client.predict(irisRequest(irisRows(1)));
    return eventually('the marker row in L2', async () => {
      const now = await l2Keys();
      return now.some((k) => !before.has(k)) ? now : undefined;
    });
  }

  it('bypass runs the model even for a cached row', async () => {
    const rows = irisRows(1);
    const stored = await sidecar.client.predict(irisRequest(rows));
    expect(stored.row_sources).toEqual([SRC.MODEL]);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1]);

    const bypassed = await sidecar.client.predict(irisRequest(rows, { cache: { bypass: true } }));
    expect(bypassed.row_sources).toEqual([SRC.MODEL]);
    expect(rawOf(bypassed.outputs.probabilities)).toEqual(rawOf(stored.outputs.probabilities));
  });

  it('bypass writes nothing to L1 or L2', async () => {
    const before = await flushL2Writes();
    const rows = irisRows(3);
    const bypassed = await sidecar.client.predict(irisRequest(rows, { cache: { bypass: true } }));
    expect(bypassed.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    const again = await sidecar.client.predict(irisRequest(rows, { cache: { bypass: true } }));
    expect(again.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);

    // Exactly one new key: the marker; the bypassed rows added none.
    const after = await flushL2Writes();
    expect(after.length).toBe(before.length + 1);

    const normal = await sidecar.client.predict(irisRequest(rows));
    expect(normal.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(rawOf(normal.outputs.probabilities)).toEqual(rawOf(bypassed.outputs.probabilities));
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);
  });

  it('no_store reads cached rows but stores none of the rows it computes', async () => {
    const [cached, fresh] = irisRows(2) as [number[], number[]];
    await sidecar.client.predict(irisRequest([cached]));
    const before = await flushL2Writes();

    const res = await sidecar.client.predict(irisRequest([cached, fresh], { cache: { no_store: true } }));
    expect(res.row_sources).toEqual([SRC.L1, SRC.MODEL]);
    const after = await flushL2Writes();
    expect(after.length).toBe(before.length + 1);

    const next = await sidecar.client.predict(irisRequest([fresh]));
    expect(next.row_sources).toEqual([SRC.MODEL]);
    expect((await sidecar.client.predict(irisRequest([fresh]))).row_sources).toEqual([SRC.L1]);
  });

  it('max_age_ms refuses an entry older than the limit and replaces it with a fresh one', async () => {
    const rows = irisRows(1);
    const old = await sidecar.client.predict(irisRequest(rows));
    expect(old.row_sources).toEqual([SRC.MODEL]);
    // A behaviour wait: let the entry (in L1 and L2) grow older than 1 s.
    await sleep(1300);

    // A generous limit still accepts it.
    const generous = await sidecar.client.predict(irisRequest(rows, { cache: { max_age_ms: 60_000 } }));
    expect(generous.row_sources).toEqual([SRC.L1]);

    const refused = await sidecar.client.predict(irisRequest(rows, { cache: { max_age_ms: 1000 } }));
    expect(refused.row_sources).toEqual([SRC.MODEL]);
    expect(rawOf(refused.outputs.probabilities)).toEqual(rawOf(old.outputs.probabilities));

    // The recomputed entry is fresh, so the same limit now accepts it.
    const fresh = await sidecar.client.predict(irisRequest(rows, { cache: { max_age_ms: 1000 } }));
    expect(fresh.row_sources).toEqual([SRC.L1]);
  });

  it('max_age_ms applies per row in a batch', async () => {
    const [older, newer] = irisRows(2) as [number[], number[]];
    await sidecar.client.predict(irisRequest([older]));
    await sleep(1300);
    await sidecar.client.predict(irisRequest([newer]));

    const res = await sidecar.client.predict(irisRequest([older, newer], { cache: { max_age_ms: 1000 } }));
    expect(res.row_sources).toEqual([SRC.MODEL, SRC.L1]);
  });
});
