import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand } from '../helpers/redis_command.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { type FleetFiles, fleetFiles, invalidate, metric, predictSources, startMember } from './fleet.js';

describe('generations survive a Redis that lost them', () => {
  const prefix = `gen-${randomBytes(4).toString('hex')}`;
  let redis: RedisServer;
  let files: FleetFiles;
  let fleet: Sidecar[];

  beforeAll(async () => {
    [redis, files] = await Promise.all([startRedis(), fleetFiles()]);
    fleet = await Promise.all(
      [0, 1].map(() => startMember(redis.url, prefix, files, { INFERCACHE_CLIENT_TRACKING: 'off' })),
    );
  });
  afterAll(async () => {
    await stopAllSidecars();
    await redis?.stop();
  });

  it('an Invalidate after a Redis restart (no persistence) still moves every sidecar on', async () => {
    const [a, b] = fleet as [Sidecar, Sidecar];
    await invalidate(a, { model: { model: 'iris', version: '' } });
    const before = await invalidate(a, { model: { model: 'iris', version: '' } });
    for (const s of fleet) {
      await eventually('the generation everywhere', async () =>
        (await metric(s, 'infercache_coherence_changes_total', { type: 'generation', via: 'pubsub' })) +
          (await metric(s, 'infercache_coherence_changes_total', { type: 'generation', via: 'log' })) >=
        (s === a ? 0 : 2)
          ? true
          : undefined,
      );
    }

    const caughtUp = await Promise.all(
      fleet.map((s) => metric(s, 'infercache_coherence_catch_ups_total', { result: 'ok' })),
    );
    await redis.stop();
    await redis.start();
    for (const [i, s] of fleet.entries()) {
      await eventually(
        'the sidecar back',
        async () =>
          (await metric(s, 'infercache_coherence_catch_ups_total', { result: 'ok' })) >
          (caughtUp[i] as number)
            ? true
            : undefined,
        20_000,
      );
    }
    expect(await redisCommand(redis.port, ['HGET', `${prefix}:generations`, 'p:iris'])).toBeNull();

    const rows = irisRows(2);
    for (const s of fleet) {
      await eventually('the rows in L1', async () =>
        (await predictSources(s, rows)).every((x) => x === SRC.L1) ? true : undefined,
      );
    }
    // Through the sidecar that did not make the earlier ones.
    const after = await invalidate(b, { model: { model: 'iris', version: '' } });
    expect(BigInt(after.generation)).toBeGreaterThan(BigInt(before.generation));
    expect((await predictSources(b, rows)).some((x) => x === SRC.L1)).toBe(false);
    await eventually('the rows out of L1', async () =>
      (await predictSources(a, rows)).some((x) => x === SRC.L1) ? undefined : true,
    );
  });
});
