import type { ServiceDefinition } from '@grpc/proto-loader';
import { afterAll, describe, expect, it } from 'vitest';
import { getFeaturesHandler } from '../../src/api/features_handlers.js';
import { loadPackageDefinition } from '../../src/api/proto.js';
import type { EntityColumnWire } from '../../src/features/entity_keys.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import { featureSide, putColumn } from '../helpers/feature_side.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

const HOUR = 3_600_000;
const defaults = { l1TtlMs: 60_000, notFoundTtlMs: 0 };
const viewOf = (name: string, maxAgeMs: number, origin?: string) =>
  toFeatureView(
    {
      name,
      entities: [{ name: 'id', type: 'string' }],
      features: [
        { name: 'n', type: 'int32' },
        { name: 'x', type: 'float32' },
      ],
      max_age: maxAgeMs,
      ...(origin === undefined
        ? {}
        : {
            origin: {
              url: origin,
              timeout: 1000,
              concurrency: 1,
              max_batch: 100,
              serve_stale_on_error: false,
            },
          }),
    },
    defaults,
  );

/** A sidecar's feature path over the shared Redis; `lookups` counts the reader's popularity calls. */
async function features(views: FeatureView[]) {
  const lookups: string[] = [];
  // Rows the reader works out hashes for (remembered ones included).
  const hashed = { rows: 0 };
  const { reader, writer, door, close } = await featureSide(views, {
    onLookup: (view) => lookups.push(view.name),
  });
  const hashes = reader.hashes.bind(reader);
  reader.hashes = (rows) => {
    hashed.rows += rows.count;
    return hashes(rows);
  };
  closers.push(close);
  const put = async (view: FeatureView, ids: string[], eventTime: number) => {
    const res = await writer.put(
      {
        view: view.name,
        entities: column(ids),
        features: [
          putColumn({ name: 'n', type: 3, int32_values: ids.map((_, i) => i) }),
          putColumn({ name: 'x', type: 1, float32_values: ids.map((_, i) => i / 2) }),
        ],
        eventTimes: ids.map(() => eventTime),
      },
      new AbortController().signal,
    );
    expect(res.written).toBe(ids.length);
  };
  const l1Hits = async () =>
    (await door.metric('infercache_cache_lookups_total', { kind: 'f', tier: 'l1', result: 'hit' })) ?? 0;
  return { reader, put, lookups, l1Hits, hashed };
}

const column = (ids: string[]): EntityColumnWire[] => [{ name: 'id', string_values: ids, int64_values: [] }];
const signal = new AbortController().signal;

describe('GetFeatures answered from L1 synchronously (FeatureReader.getNow)', () => {
  it('answers as get does when L1 holds every row, counting the lookups and popularity once', async () => {
    const a = viewOf('a', HOUR);
    const f = await features([a]);
    const ids = ['e1', 'e2', 'e3', 'e2'];
    await f.put(a, ['e1', 'e2', 'e3'], Date.now() - 1000);
    const before = await f.l1Hits();
    const now = f.reader.getNow(['a'], column(ids));
    expect(now).toBeDefined();
    expect(await f.l1Hits()).toBe(before + ids.length);
    expect(f.lookups).toEqual(['a']);
    const later = await f.reader.get(['a'], column(ids), signal);
    expect(now?.views[0]?.sources).toEqual(['l1', 'l1', 'l1', 'l1']);
    expect(now?.views[0]?.rows).toEqual(later.views[0]?.rows);
    expect(now?.views[0]?.sources).toEqual(later.views[0]?.sources);
    expect(now?.refs).toEqual(later.refs);
  });

  it('answers nothing, and counts nothing, when a row is not in L1, or when the call names several views', async () => {
    const a = viewOf('a', HOUR);
    const b = viewOf('b', HOUR);
    const f = await features([a, b]);
    await f.put(a, ['e1', 'e2'], Date.now());
    await f.put(b, ['e1', 'e2'], Date.now());
    const before = await f.l1Hits();
    expect(f.reader.getNow(['a'], column(['e1', 'e2', 'e3']))).toBeUndefined();
    // Every row of both views in L1: left to the asynchronous way all the same (see getNow).
    expect(f.reader.getNow(['a', 'b'], column(['e1', 'e2']))).toBeUndefined();
    expect(await f.l1Hits()).toBe(before);
    expect(f.lookups).toEqual([]);
    // The asynchronous way answers them, counting each row's lookup once.
    const res = await f.reader.get(['a', 'b'], column(['e1', 'e2']), signal);
    expect(res.views.map((v) => v.sources)).toEqual([
      ['l1', 'l1'],
      ['l1', 'l1'],
    ]);
    expect(await f.l1Hits()).toBe(before + 4);
  });

  it('leaves a row past max_age of a view with an origin to the asynchronous way, which asks the origin', async () => {
    // An origin nobody listens on: the asynchronous way would ask it; getNow must not serve the stale row.
    const o = viewOf('o', 1000, 'http://127.0.0.1:9/features');
    const plain = viewOf('p', 1000);
    const f = await features([o, plain]);
    await f.put(o, ['e1'], Date.now() - 5000);
    await f.put(plain, ['e1'], Date.now() - 5000);
    expect(f.reader.getNow(['o'], column(['e1']))).toBeUndefined();
    // Without an origin, the old row is the answer: served from L1 and marked OUTSIDE_MAX_AGE.
    expect(f.reader.getNow(['p'], column(['e1']))?.views[0]?.sources).toEqual(['l1']);
  });

  it('throws what get throws for a request in error', async () => {
    const f = await features([viewOf('a', HOUR)]);
    expect(() => f.reader.getNow(['nope'], column(['e1']))).toThrow(/unknown view/);
    await expect(f.reader.get(['nope'], column(['e1']), signal)).rejects.toThrow(/unknown view/);
  });

  it('is how the GetFeatures handler answers a call L1 covers: at once, in bytes; any other call it leaves to the asynchronous way', async () => {
    const a = viewOf('a', HOUR);
    const f = await features([a]);
    await f.put(a, ['e1', 'e2'], Date.now());
    const method = (loadPackageDefinition()['infercache.v1.InferCache'] as ServiceDefinition).GetFeatures;
    const request = (ids: string[]) =>
      method?.requestSerialize({ features: ['a:x'], entities: { columns: column(ids) } }) as Buffer;
    const handler = getFeaturesHandler(f.reader);
    const answer = handler.now?.(request(['e2', 'e1']));
    expect(Buffer.isBuffer(answer)).toBe(true);
    const decoded = method?.responseDeserialize(answer as Buffer) as {
      features: { float32_values: number[] }[];
      views: { sources: number[] }[];
    };
    expect(decoded.features[0]?.float32_values).toEqual([0.5, 0]);
    expect(decoded.views[0]?.sources).toEqual([1, 1]);
    expect(handler.now?.(request(['e1', 'e3']))).toBeUndefined();
  });

  it('hands get what it prepared when it cannot answer, so the rows are hashed once; several views it leaves unhashed', async () => {
    const a = viewOf('a', HOUR);
    const b = viewOf('b', HOUR);
    const f = await features([a, b]);
    await f.put(a, ['e1'], Date.now());
    const refs = ['a'];
    const ids = column(['e1', 'e2', 'e3']);
    f.hashed.rows = 0;
    expect(f.reader.getNow(refs, ids)).toBeUndefined();
    const res = await f.reader.get(refs, ids, signal);
    expect(res.views[0]?.sources).toEqual(['l1', 'none', 'none']);
    expect(f.hashed.rows).toBe(3);
    // Asked again with new arrays: nothing held for them, hashed anew.
    await f.reader.get(['a'], column(['e1', 'e2', 'e3']), signal);
    expect(f.hashed.rows).toBe(6);
    const both = ['a', 'b'];
    expect(f.reader.getNow(both, ids)).toBeUndefined();
    expect(f.hashed.rows).toBe(6);
  });
});
