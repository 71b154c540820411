import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import {
  eventually,
  heavyRequest,
  heavyRows,
  irisRequest,
  irisRows,
  rawOf,
  SRC,
} from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const freshPrefix = () => `fleet-${randomBytes(6).toString('hex')}`;

// SERVING does not wait for Redis (an outage must not block a start), so wait
// for the connection before relying on L2.
const l2Ready = (s: Sidecar) => s.waitForLog((l) => l.msg === 'L2 connected');
const started = async (keyPrefix: string) => {
  const s = await startSidecar({ redisUrl: sharedRedisUrl(), keyPrefix });
  await l2Ready(s);
  return s;
};

describe('a fleet of sidecars shares L2 through Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = redisClient(sharedRedisUrl());
  });
  afterAll(async () => {
    await stopAllSidecars();
    redis?.disconnect();
  });

  /** L2 writes are asynchronous: wait until `count` keys exist under `prefix`. */
  const waitForKeys = (prefix: string, count: number) =>
    eventually(`${count} keys under ${prefix}`, async () => {
      const keys = await keysUnder(redis, prefix);
      return keys.length >= count ? keys : undefined;
    });

  it('serves a row computed by one sidecar process from L2 on another', async () => {
    const keyPrefix = freshPrefix();
    const [a, b] = await Promise.all([started(keyPrefix), started(keyPrefix)]);
    expect(a.proc.pid).not.toBe(b.proc.pid);
    const rows = irisRows(3);
    const computed = await a.client.predict(irisRequest(rows));
    expect(computed.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    const keys = await waitForKeys(keyPrefix, 3);
    expect(keys.every((k) => k.startsWith(`${keyPrefix}:p:iris:1:`))).toBe(true);

    const shared = await b.client.predict(irisRequest(rows));
    expect(shared.row_sources).toEqual([SRC.L2, SRC.L2, SRC.L2]);
    expect(rawOf(shared.outputs.probabilities)).toEqual(rawOf(computed.outputs.probabilities));
    expect(rawOf(shared.outputs.label)).toEqual(rawOf(computed.outputs.label));
    expect(metricValue(await b.metrics(), 'infercache_rows_total', { model: 'iris', source: 'l2' })).toBe(3);

    // An L2 hit is copied into the second sidecar's L1.
    expect((await b.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);

    // A batch mixing both: one row only A has computed, one nobody has.
    const [shown, unseen] = irisRows(2) as [number[], number[]];
    await a.client.predict(irisRequest([shown]));
    await waitForKeys(keyPrefix, 4);
    const mixed = await b.client.predict(irisRequest([unseen, rows[0] as number[], shown]));
    expect(mixed.row_sources).toEqual([SRC.MODEL, SRC.L1, SRC.L2]);
  });

  it('does not share rows between sidecars with different key prefixes', async () => {
    const keyPrefix = freshPrefix();
    const [a, other] = await Promise.all([started(keyPrefix), started(freshPrefix())]);
    const rows = irisRows(2);
    await a.client.predict(irisRequest(rows));
    await waitForKeys(keyPrefix, 2);
    expect((await other.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
  });

  it('keeps L2 rows across a sidecar restart', async () => {
    const keyPrefix = freshPrefix();
    const first = await started(keyPrefix);
    const data = heavyRows(4);
    const computed = await first.client.predict(heavyRequest(data));
    expect(computed.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    await waitForKeys(keyPrefix, 4);
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await started(keyPrefix);
    const again = await second.client.predict(heavyRequest(data));
    expect(again.row_sources).toEqual([SRC.L2, SRC.L2, SRC.L2, SRC.L2]);
    expect(rawOf(again.outputs.y)).toEqual(rawOf(computed.outputs.y));
  });
});
