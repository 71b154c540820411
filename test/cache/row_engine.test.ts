import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { L1Cache } from '../../src/cache/l1.js';
import { RowEngine, type RowJob } from '../../src/cache/row_engine.js';
import { TieredCache } from '../../src/cache/tiered.js';
import { createMetrics } from '../../src/ops/metrics.js';
import type { RedisDoor } from '../../src/redis/door.js';
import { NullDoor } from '../../src/redis/null_door.js';
import { type Blob, blob, blobKind } from '../helpers/blob_kind.js';
import { openDoor, sleep } from '../helpers/door.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const kind = blobKind({ width: 8 });

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

function engineOver(door: RedisDoor) {
  const metrics = createMetrics();
  const l1 = new L1Cache(
    { maxBytes: 1 << 20, shares: { p: 1, f: 0, e: 0 } },
    metrics.cache,
    metrics.l1Sources,
  );
  const cache = new TieredCache(l1, door, { maxPendingWrites: 1000 }, metrics.cache);
  return { engine: new RowEngine(cache), cache };
}

async function redisEngine() {
  const d = await openDoor(sharedRedisUrl());
  closers.push(() => d.close());
  return engineOver(d.door);
}

const redis = new Redis(sharedRedisUrl());
closers.push(() => redis.quit());
const prefix = `rows-${randomUUID()}`;
let n = 0;
const freshKey = (name: string) => `${prefix}:${name}:${n++}`;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A computation that records the rows of each call; row r's value is filled with byte `fill(r)`. */
function recorder(fill: (row: number) => number = (r) => 100 + r) {
  const calls: number[][] = [];
  const compute = async (rows: readonly number[]): Promise<Blob[]> => {
    calls.push([...rows]);
    return rows.map((r) => blob(8, fill(r)));
  };
  return { calls, compute };
}

const job = (
  keys: string[],
  compute: RowJob<Blob>['compute'],
  more: Partial<RowJob<Blob>> = {},
): RowJob<Blob> => ({ kind, keys, compute, store: true, signal: new AbortController().signal, ...more });

const first = (v: Blob | undefined) => v?.data[0];

/** `promise`, or a rejection if it has not settled within `ms`. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('row engine', () => {
  it('answers in request order, each row from L1, L2 or the computation, and stores what it computed', async () => {
    const { engine, cache } = await redisEngine();
    const [inL2, missing, inL1] = [freshKey('l2'), freshKey('missing'), freshKey('l1')];
    const writer = await redisEngine();
    writer.cache.setMany(kind, [inL2], [blob(8, 2)]);
    await writer.cache.flush();
    cache.l1(kind).set(inL1, blob(8, 1), 60_000);

    const { calls, compute } = recorder();
    const result = await engine.run(job([inL2, missing, inL1], compute));
    expect(result.sources).toEqual(['l2', 'computed', 'l1']);
    expect(result.values.map(first)).toEqual([2, 101, 1]);
    expect(calls).toEqual([[1]]);
    await cache.flush();
    expect(await redis.exists(missing)).toBe(1);
  });

  it('keeps out of L1 only the computed rows whose key a writer changed during the computation', async () => {
    const { engine, cache } = await redisEngine();
    const [raced, other, elsewhere] = [freshKey('raced'), freshKey('calm'), freshKey('elsewhere')];
    const computing = deferred();
    const release = deferred();
    const run = engine.run(
      job([raced, other], async (rows) => {
        computing.resolve();
        await release.promise;
        return rows.map((r) => blob(8, 50 + r));
      }),
    );
    await computing.promise;
    // A writer (PutFeatures) stores a newer row of one key; another key, not in this batch, changes too.
    cache.l1(kind).set(raced, blob(8, 9), 60_000);
    cache.l1Cache.delete(kind.id, elsewhere);
    release.resolve();
    expect((await run).values.map(first)).toEqual([50, 51]);
    expect(first(cache.l1(kind).get(raced))).toBe(9);
    expect(first(cache.l1(kind).get(other))).toBe(51);
    await cache.flush();
    expect(await redis.exists(raced, other)).toBe(2);
    expect(cache.l1Marks.keys).toBe(0);
  });

  it('computes a key that appears several times in a batch once', async () => {
    const { engine } = engineOver(new NullDoor());
    const { calls, compute } = recorder();
    const result = await engine.run(job(['a', 'b', 'a', 'c', 'b'], compute));
    expect(calls).toEqual([[0, 1, 3]]);
    expect(result.values.map(first)).toEqual([100, 101, 100, 103, 101]);
    expect(result.values[2]).toBe(result.values[0]);
  });

  it('computes a missing key once for two concurrent requests', async () => {
    const { engine } = engineOver(new NullDoor());
    const started = deferred();
    const release = deferred();
    let computations = 0;
    const compute = async (rows: readonly number[]) => {
      computations++;
      started.resolve();
      await release.promise;
      return rows.map(() => blob(8, 7));
    };
    const owner = engine.run(job(['k'], compute, { store: false }));
    await started.promise;
    const waiter = engine.run(job(['k'], compute, { store: false }));
    await sleep(10);
    release.resolve();
    const [a, b] = await within(2000, Promise.all([owner, waiter]));
    expect(computations).toBe(1);
    expect(b.values[0]).toBe(a.values[0]);
    expect(b.sources).toEqual(['computed']);
  });

  it('computes a row itself when the computation it waited on fails', async () => {
    const { engine } = engineOver(new NullDoor());
    const started = deferred();
    const release = deferred();
    const rowsOfCalls: number[][] = [];
    const compute = async (rows: readonly number[]) => {
      rowsOfCalls.push([...rows]);
      if (rowsOfCalls.length === 1) {
        started.resolve();
        await release.promise;
        throw new Error('the first caller ran out of time');
      }
      return rows.map(() => blob(8, 8));
    };
    const owner = engine.run(job(['x', 'k'], compute));
    await started.promise;
    const waiter = engine.run(job(['k'], compute));
    await sleep(10);
    release.resolve();
    await expect(owner).rejects.toThrow('the first caller ran out of time');
    const result = await within(2000, waiter);
    expect(result.values.map(first)).toEqual([8]);
    expect(rowsOfCalls).toEqual([[0, 1], [0]]);
  });

  it("stops a waiter at once when its own signal aborts, while the owner's computation goes on", async () => {
    const { engine } = engineOver(new NullDoor());
    const started = deferred();
    const release = deferred();
    let computations = 0;
    const compute = async (rows: readonly number[]) => {
      computations++;
      started.resolve();
      await release.promise;
      return rows.map(() => blob(8, 9));
    };
    const owner = engine.run(job(['k'], compute));
    await started.promise;
    const controller = new AbortController();
    const waiter = engine.run(job(['k'], compute, { signal: controller.signal }));
    await sleep(10);
    const reason = new Error('the waiting caller went away');
    controller.abort(reason);
    await expect(within(500, waiter)).rejects.toBe(reason);
    expect(computations).toBe(1);
    release.resolve();
    expect((await owner).values.map(first)).toEqual([9]);
    expect(computations).toBe(1);
  });

  it('stores nothing when asked not to', async () => {
    const { engine, cache } = await redisEngine();
    const key = freshKey('no-store');
    const { calls, compute } = recorder();
    await engine.run(job([key], compute, { store: false }));
    await cache.flush();
    expect(cache.l1(kind).get(key)).toBeUndefined();
    expect(await redis.exists(key)).toBe(0);
    await engine.run(job([key], compute, { store: false }));
    expect(calls).toEqual([[0], [0]]);
  });

  it('computes again a cached value the caller does not accept, and stores the new one', async () => {
    const { engine, cache } = engineOver(new NullDoor());
    cache.l1(kind).set('k', blob(8, 1, 10_000), 60_000);
    const { calls, compute } = recorder();
    const fresh = (v: Blob) => v.time >= Date.now() - 1000;
    const result = await engine.run(job(['k'], compute, { accept: fresh }));
    expect(result.sources).toEqual(['computed']);
    expect(result.values.map(first)).toEqual([100]);
    expect(calls).toEqual([[0]]);
    expect(first(cache.l1(kind).get('k'))).toBe(100);
    expect((await engine.run(job(['k'], compute, { accept: fresh }))).sources).toEqual(['l1']);
  });

  it('refuses a computation that returns the wrong number of values, and leaves no key claimed', async () => {
    const { engine } = engineOver(new NullDoor());
    await expect(engine.run(job(['a', 'b'], async () => [blob(8)]))).rejects.toThrow(
      'computed 1 values for 2 rows',
    );
    const { calls, compute } = recorder();
    expect((await engine.run(job(['a', 'b'], compute))).values.map(first)).toEqual([100, 101]);
    expect(calls).toEqual([[0, 1]]);
  });
});
