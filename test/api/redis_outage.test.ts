import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metrics.js';
import { keysUnder, redisClient } from '../helpers/redis_keys.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, irisRequest, irisRows, SRC, sleep } from '../helpers/requests.js';
import { type LogLine, type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const WARN = 40;
const isWarn = (l: LogLine) => l.level === WARN;
const l2Connected = async (s: Sidecar) => metricValue(await s.metrics(), 'infercache_redis_node_connected');

describe('the sidecar rides out a Redis outage', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    await stopAllSidecars();
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function ownRedis(): Promise<RedisServer> {
    const server = await startRedis();
    servers.push(server);
    return server;
  }

  it('starts without Redis, warns once, serves from the model and L1, then reconnects by itself and fills L2', async () => {
    const redis = await ownRedis();
    await redis.stop();
    const keyPrefix = `outage-${randomBytes(6).toString('hex')}`;
    const sidecar = await startSidecar({ redisUrl: redis.url, keyPrefix });

    const rows = irisRows(2);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(await l2Connected(sidecar)).toBe(0);

    // A behaviour wait: several reconnect attempts fail in this time, and
    // each must not log another warning.
    await sleep(2000);
    const warnings = sidecar.logs().filter(isWarn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/Redis unreachable/);
    expect(warnings[0]?.redis).toBe(redis.url);

    await redis.start();
    await sidecar.waitForLog((l) => l.msg === 'L2 connected', 15_000);
    expect(await l2Connected(sidecar)).toBe(1);
    expect(sidecar.logs().filter(isWarn)).toHaveLength(1);

    // Rows computed from now on land in L2, where a second sidecar finds them.
    const later = irisRows(3);
    expect((await sidecar.client.predict(irisRequest(later))).row_sources).toEqual([
      SRC.MODEL,
      SRC.MODEL,
      SRC.MODEL,
    ]);
    const client = redisClient(redis.url);
    clients.push(client);
    await eventually('3 rows in L2', async () =>
      (await keysUnder(client, keyPrefix)).length >= 3 ? true : undefined,
    );
    const second = await startSidecar({ redisUrl: redis.url, keyPrefix });
    await second.waitForLog((l) => l.msg === 'L2 connected');
    expect((await second.client.predict(irisRequest(later))).row_sources).toEqual([SRC.L2, SRC.L2, SRC.L2]);
    // The rows served during the outage were never written to L2.
    expect((await second.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
  });

  it('keeps answering when Redis stops while serving, and reconnects when it is back', async () => {
    const redis = await ownRedis();
    const sidecar = await startSidecar({ redisUrl: redis.url });
    await sidecar.waitForLog((l) => l.msg === 'L2 connected');
    const cached = irisRows(2);
    await sidecar.client.predict(irisRequest(cached));

    await redis.stop();
    const warning = await sidecar.waitForLog((l) => isWarn(l) && /L2 unreachable/.test(String(l.msg)));
    expect(warning.msg).toMatch(/serving from L1 and the model/);

    const fresh = irisRows(2);
    const mixed = await sidecar.client.predict(irisRequest([...fresh, ...cached]));
    expect(mixed.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.L1, SRC.L1]);
    for (let i = 0; i < 5; i++) {
      const res = await sidecar.client.predict(irisRequest(irisRows(1)));
      expect(res.row_sources).toEqual([SRC.MODEL]);
    }
    expect(await l2Connected(sidecar)).toBe(0);
    expect(sidecar.logs().filter(isWarn)).toHaveLength(1);

    await redis.start();
    await sidecar.waitForLog((l) => l.msg === 'L2 reconnected', 15_000);
    await eventually('infercache_redis_node_connected 1', async () =>
      (await l2Connected(sidecar)) === 1 ? true : undefined,
    );
    // L1 is read again once the sidecar has caught up with the fleet's
    // changes (its coherence link reconnects on its own backoff).
    await eventually('rows served from L1 again', async () => {
      const after = await sidecar.client.predict(irisRequest(fresh));
      return after.row_sources.every((s) => s === SRC.L1) ? true : undefined;
    });
  });
});
