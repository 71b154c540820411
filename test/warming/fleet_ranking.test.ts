import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { FleetRanking } from '../../src/warming/fleet_ranking.js';
import { Popularity } from '../../src/warming/popularity.js';
import { openDoor, sleep, type TestDoor, waitUntil } from '../helpers/door.js';
import { redisCommand } from '../helpers/redis_command.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const VIEW = 'v';
const hashOf = (n: number) => (Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(16).padStart(32, '0');
const redis = (...args: (string | number)[]) =>
  redisCommand(Number(new URL(sharedRedisUrl()).port), args.map(String));

/** Entity `id` looked up `times` times, one lookup each. */
function lookUp(popularity: Popularity, id: number, times = 1): void {
  for (let i = 0; i < times; i++) popularity.seenAll(VIEW, [hashOf(id)], () => [String(id)]);
}

const newPopularity = () => new Popularity({ capacity: 4096, topK: 100 }, createMetrics().warming);

describe('fleet ranking (real Redis)', () => {
  let t: TestDoor;
  beforeAll(async () => {
    t = await openDoor(sharedRedisUrl());
  });
  afterAll(async () => {
    await t?.close();
  });
  const ranking = (prefix: string, halfLifeMs: number, maxEntities = 100) =>
    new FleetRanking(t.door, { prefix, maxEntities, halfLifeMs }, createLogger('silent'));
  const scores = async (prefix: string) => {
    const reply = (await redis('ZREVRANGE', `${prefix}:popular:${VIEW}`, 0, -1, 'WITHSCORES')) as string[];
    return Object.fromEntries(
      reply.flatMap((m, i) => (i % 2 === 0 ? [[m, Number(reply[i + 1])]] : [])),
    ) as Record<string, number>;
  };

  it('adds what was looked up since the last publish, and nothing while nothing is looked up', async () => {
    const prefix = `rank-${randomBytes(6).toString('hex')}`;
    const fleet = ranking(prefix, 3_600_000);
    const popularity = newPopularity();
    lookUp(popularity, 1, 3);
    lookUp(popularity, 2);
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["1"]': 3, '["2"]': 1 });
    // Publishing the same estimates again would make scores grow with no lookup at all.
    await fleet.publish(popularity);
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["1"]': 3, '["2"]': 1 });
    lookUp(popularity, 2, 2);
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["1"]': 3, '["2"]': 3 });
  });

  it('counts lookups past what the sketch holds (15), so the hot stay above the warm', async () => {
    const prefix = `rank-${randomBytes(6).toString('hex')}`;
    const fleet = ranking(prefix, 3_600_000);
    const popularity = newPopularity();
    lookUp(popularity, 1, 100);
    lookUp(popularity, 2, 20);
    await fleet.publish(popularity);
    lookUp(popularity, 1, 50);
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["1"]': 150, '["2"]': 20 });
  });

  it('halves every score once a half-life has passed, then trims the set to its bound', async () => {
    const prefix = `rank-${randomBytes(6).toString('hex')}`;
    const key = `${prefix}:popular:${VIEW}`;
    // As other sidecars left it: five entities, more than the bound of three.
    await redis('ZADD', key, 80, '["a"]', 40, '["b"]', 20, '["c"]', 10, '["d"]', 8, '["e"]');
    const fleet = ranking(prefix, 1000, 3);
    const popularity = newPopularity();
    lookUp(popularity, 9);
    // No half-life has started yet: the first publish halves and trims, then adds its own.
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["a"]': 40, '["b"]': 20, '["c"]': 10, '["9"]': 1 });
    // Within the half-life: no halving, and nothing new to add.
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["a"]': 40, '["b"]': 20, '["c"]': 10, '["9"]': 1 });
    await sleep(1100);
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["a"]': 20, '["b"]': 10, '["c"]': 5 });
    await redis('DEL', key, `${key}:decayed`);
  });

  it('publishes again what a failed publish held, once', async () => {
    const prefix = `rank-${randomBytes(6).toString('hex')}`;
    const fleet = ranking(prefix, 3_600_000);
    const popularity = newPopularity();
    lookUp(popularity, 5, 2);
    t.chaos.inject({ kind: 'replyErrors', error: new Error('OOM command not allowed') });
    await fleet.publish(popularity);
    t.chaos.inject(undefined);
    expect(await scores(prefix)).toEqual({});
    // The failures may have opened the circuit for a while: publish until one gets through.
    await waitUntil('a publish to reach Redis', async () => {
      await fleet.publish(popularity);
      return Object.keys(await scores(prefix)).length > 0;
    });
    await fleet.publish(popularity);
    expect(await scores(prefix)).toEqual({ '["5"]': 2 });
  });
});
