import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createRedisDoor } from '../../src/redis/create_door.js';
import type { RedisCall, RedisReply, RedisTransport } from '../../src/redis/transport.js';
import { openDoor, waitUntil } from '../helpers/door.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { describeDoorContract } from './door_contract.js';

describeDoorContract('one Redis server', async () => {
  const { door, metrics } = await openDoor(sharedRedisUrl());
  const admin = new Redis(sharedRedisUrl());
  return {
    door,
    metrics,
    flush: async () => {
      await admin.script('FLUSH');
    },
    close: async () => {
      await door.close();
      await admin.quit();
    },
  };
});

/** Passes every round trip through, keeping a copy of the commands it carried. */
class RecordingTransport implements RedisTransport {
  readonly #inner: RedisTransport;
  readonly trips: RedisCall[][] = [];

  constructor(inner: RedisTransport) {
    this.#inner = inner;
  }
  get mode() {
    return this.#inner.mode;
  }
  nodeOf(key: string | undefined) {
    return this.#inner.nodeOf(key);
  }
  slotOf(key: string) {
    return this.#inner.slotOf(key);
  }
  nodes() {
    return this.#inner.nodes();
  }
  isConnected(node: string) {
    return this.#inner.isConnected(node);
  }
  exec(node: string, calls: readonly RedisCall[]): Promise<RedisReply[]> {
    this.trips.push([...calls]);
    return this.#inner.exec(node, calls);
  }
  refreshTopology() {
    this.#inner.refreshTopology();
  }
  close() {
    return this.#inner.close();
  }
}

describe('the gated door over one server', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  async function recorded() {
    const made: { transport?: RecordingTransport } = {};
    const door = createRedisDoor(
      {
        url: sharedRedisUrl(),
        mode: 'single',
        timeoutMs: 1000,
        circuit: { resetMs: 1000, errorThresholdPct: 50 },
      },
      createMetrics().redis,
      createLogger('silent'),
      (inner) => {
        made.transport = new RecordingTransport(inner);
        return made.transport;
      },
    );
    closers.push(() => door.close());
    await waitUntil('the connection', () => door.connected);
    return { door, trips: (made.transport as RecordingTransport).trips };
  }

  const keys = (n: number) => Array.from({ length: n }, (_, i) => `gated-${process.pid}-${i}`);

  it('reads a batch in one round trip, as MGET commands of at most 500 keys', async () => {
    const { door, trips } = await recorded();
    await door.getMany('mget', keys(1200));
    expect(trips).toHaveLength(1);
    expect(trips[0]?.map((c) => [c.name, c.args.length])).toEqual([
      ['MGET', 500],
      ['MGET', 500],
      ['MGET', 200],
    ]);
  });

  it('deletes a batch in one round trip, as DEL commands of at most 500 keys', async () => {
    const { door, trips } = await recorded();
    expect(await door.deleteMany('del', keys(501))).toBe(501);
    expect(trips.map((t) => t.map((c) => [c.name, c.args.length]))).toEqual([
      [
        ['DEL', 500],
        ['DEL', 1],
      ],
    ]);
  });

  it('writes a batch in one round trip, one SET with a whole-millisecond PX of at least 1 per value', async () => {
    const { door, trips } = await recorded();
    const [a, b] = keys(2) as [string, string];
    await door.setMany('set', [
      { key: a, value: Buffer.from('a'), ttlMs: 0.2 },
      { key: b, value: Buffer.from('b'), ttlMs: 1500.6 },
    ]);
    expect(trips).toHaveLength(1);
    expect(trips[0]?.map((c) => [c.name, c.args[2], c.args[3]])).toEqual([
      ['SET', 'PX', 1],
      ['SET', 'PX', 1501],
    ]);
  });

  it('sends nothing for an empty batch', async () => {
    const { door, trips } = await recorded();
    expect(await door.getMany('mget', [])).toEqual([]);
    expect(await door.deleteMany('del', [])).toBe(0);
    expect(await door.run('run', 'read', [])).toEqual([]);
    expect(trips).toHaveLength(0);
  });
});
