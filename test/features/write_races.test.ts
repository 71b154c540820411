import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EntityColumnWire, entityRows } from '../../src/features/entity_keys.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import { sleep } from '../helpers/door.js';
import { featureSide, putColumn } from '../helpers/feature_side.js';
import { json, type OriginServer, startOriginServer } from '../helpers/origin_server.js';

// A row written while a lookup of the same entity is on its way (found
// missing in Redis, or being asked of the view's origin) is newer than what
// that lookup brings back: neither this sidecar's L1 nor Redis may end up
// holding the lookup's answer in its place.

const closers: (() => Promise<unknown>)[] = [];
let origin: OriginServer;
beforeAll(async () => {
  origin = await startOriginServer();
  closers.push(() => origin.close());
});
afterAll(async () => {
  for (const close of closers) await close();
});

const viewOf = (name: string, withOrigin: boolean) =>
  toFeatureView(
    {
      name,
      entities: [{ name: 'id', type: 'string' }],
      features: [{ name: 'n', type: 'int32' }],
      max_age: 3_600_000,
      // Long enough that a NOT_FOUND kept in L1 would still be served at the end of a test.
      not_found_ttl: 60_000,
      ...(withOrigin
        ? {
            origin: {
              url: origin.url(name),
              timeout: 5000,
              concurrency: 1,
              max_batch: 10,
              serve_stale_on_error: false,
            },
          }
        : {}),
    },
    { l1TtlMs: 60_000, notFoundTtlMs: 60_000 },
  );

/** A sidecar's feature path on the shared Redis, under `keyPrefix`. */
async function sidecar(view: FeatureView, keyPrefix: string) {
  const { reader, writer, cache, door, close } = await featureSide([view], { keyPrefix, timeoutMs: 5000 });
  closers.push(close);
  const put = async (id: string, n: number, eventTime: number) => {
    const res = await writer.put(
      {
        view: view.name,
        entities: column([id]),
        features: [putColumn({ name: 'n', type: 3, int32_values: [n] })],
        eventTimes: [eventTime],
      },
      new AbortController().signal,
    );
    expect(res.written).toBe(1);
  };
  const read = async (id: string) => {
    const res = await reader.get([view.name], column([id]), new AbortController().signal);
    const v = res.views[0];
    return { n: v?.rows[0]?.values?.[0] ?? null, source: v?.sources[0] };
  };
  /** What the fleet's message of a change to `id` does here (coherence.ts applies a 'keys' change so). */
  const told = (id: string) =>
    cache.changedElsewhere(
      reader.writeKeys(view, entityRows(view.joinKeys, column([id]), 1)),
      keyPrefix.length + 1,
    );
  return { reader, put, read, told, chaos: door.chaos };
}

const column = (ids: string[]): EntityColumnWire[] => [{ name: 'id', string_values: ids, int64_values: [] }];
const prefix = () => `race-${randomBytes(4).toString('hex')}`;

describe('a row written while a lookup of its entity is on its way', () => {
  it('is not replaced in L1 by the NOT_FOUND of a lookup that found it missing just before', async () => {
    const view = viewOf('plain', false);
    const s = await sidecar(view, prefix());
    // The lookup's MGET runs at once and finds nothing; its answer arrives 300 ms later.
    s.chaos.inject({ kind: 'late', ms: 300 });
    const lookup = s.read('e1');
    await sleep(100);
    s.chaos.inject(undefined);
    await s.put('e1', 7, Date.now());
    // Begun before the write: NOT_FOUND is its honest answer.
    expect(await lookup).toEqual({ n: null, source: 'none' });
    // After it: the written row, from L1, not a NOT_FOUND remembered over it.
    expect(await s.read('e1')).toEqual({ n: 7, source: 'l1' });
  });

  it("is not replaced, in Redis or in L1, by the origin's older row", async () => {
    const view = viewOf('with_origin', true);
    const keyPrefix = prefix();
    const s = await sidecar(view, keyPrefix);
    const now = Date.now();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    origin.route(view.name, async (req, res) => {
      await gate;
      json(res, { rows: req.entities.map(() => ({ event_time_ms: now - 60_000, features: { n: 1 } })) });
    });
    const lookup = s.read('e1');
    await sleep(100); // The origin has been asked and is holding its answer.
    await s.put('e1', 2, now);
    release();
    expect(await lookup).toEqual({ n: 1, source: 'origin' });
    expect(await s.read('e1')).toEqual({ n: 2, source: 'l1' });
    // What Redis holds, read by a sidecar with nothing in its L1, once the origin's row was sent.
    await sleep(300);
    const other = await sidecar(view, keyPrefix);
    expect(await other.read('e1')).toEqual({ n: 2, source: 'l2' });
  });
});

describe('a row written while a newer change of its entity overtakes the answer', () => {
  it('is not kept in L1 over the newer row another sidecar wrote meanwhile, whose message came first', async () => {
    const view = viewOf('overtaken', false);
    const keyPrefix = prefix();
    const [a, b] = [await sidecar(view, keyPrefix), await sidecar(view, keyPrefix)];
    const now = Date.now();
    // A's write runs in Redis at once; its answer comes 300 ms later.
    a.chaos.inject({ kind: 'late', ms: 300 });
    const put = a.put('e1', 1, now - 1000);
    await sleep(100);
    a.chaos.inject(undefined);
    // B's newer row lands after A's, and the fleet tells A before A's own answer arrives.
    await b.put('e1', 2, now);
    a.told('e1');
    await put;
    expect(await a.read('e1')).toEqual({ n: 2, source: 'l2' });
    expect(await a.read('e1')).toEqual({ n: 2, source: 'l1' });
  });
});
