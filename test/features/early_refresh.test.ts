import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityColumnWire } from '../../src/features/entity_keys.js';
import { toFeatureView } from '../../src/features/view.js';
import { type FeatureSide, featureSide, putColumn } from '../helpers/feature_side.js';
import { json, type OriginServer, startOriginServer } from '../helpers/origin_server.js';
import { eventually, sleep } from '../helpers/requests.js';

const HOUR = 3_600_000;
const T0 = Date.now() - 10 * 60_000;
const column = (ids: string[]): EntityColumnWire[] => [{ name: 'id', string_values: ids, int64_values: [] }];
const signal = new AbortController().signal;

/**
 * Early refresh of the rows of a view with an origin, in process: the
 * reader's clock is set, and XFetch's draw fixed, so whether a row is due
 * is decided by its distance to max_age alone.
 */
describe('early refresh of feature rows (FeatureReader)', () => {
  let origin: OriginServer;
  const sides: FeatureSide[] = [];
  const view = (name: string) =>
    toFeatureView(
      {
        name,
        entities: [{ name: 'id', type: 'string' }],
        features: [{ name: 'n', type: 'int32' }],
        max_age: HOUR,
        origin: {
          url: origin.url(name),
          timeout: 2000,
          concurrency: 1,
          max_batch: 100,
          serve_stale_on_error: true,
        },
      },
      { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
    );
  beforeAll(async () => {
    origin = await startOriginServer();
  });
  afterAll(async () => {
    for (const side of sides) await side.close();
    await origin?.close();
  });

  /** A writer side and a reader side sharing keys, the reader's clock at `clock.now`, refreshes counted. */
  async function sides2(name: string) {
    const v = view(name);
    const keyPrefix = `er-${randomBytes(4).toString('hex')}`;
    const clock = { now: Date.now() };
    const refreshed: [number, boolean][] = [];
    const writer = await featureSide([v], { keyPrefix });
    const reader = await featureSide([v], {
      keyPrefix,
      now: () => clock.now,
      // -ln(1 - 0.999) = 6.9: due within 6.9 × 10 ms (the first cost guess) × beta of max_age.
      earlyRefresh: {
        beta: 1,
        refreshed: (rows, failed) => refreshed.push([rows, failed]),
        random: () => 0.999,
      },
    });
    sides.push(writer, reader);
    const put = async (ids: string[], eventTime: number) => {
      await writer.writer.put(
        {
          view: name,
          entities: column(ids),
          features: [putColumn({ name: 'n', type: 3, int32_values: ids.map(() => 1) })],
          eventTimes: ids.map(() => eventTime),
        },
        signal,
      );
    };
    return { v, clock, refreshed, reader: reader.reader, put };
  }

  it('asks the origin in the background for a row read from L2 close to max_age, and serves the cached row meanwhile', async () => {
    const { clock, refreshed, reader, put } = await sides2('er_near');
    origin.route('er_near', (req, res) =>
      json(res, { rows: req.entities.map(() => ({ event_time_ms: T0 + 1000, features: { n: 2 } })) }),
    );
    await put(['near', 'far'], T0);
    await sleep(50);
    clock.now = T0 + HOUR - 20;
    // "far" was written later: 30 min from max_age, never due.
    await put(['far'], T0 + 30 * 60_000);
    const res = await reader.get(['er_near'], column(['near', 'far', 'near']), signal);
    expect(res.views[0]?.sources).toEqual(['l2', 'l2', 'l2']);
    expect(res.views[0]?.rows.map((r) => r.values)).toEqual([[1], [1], [1]]);
    await eventually('the refresh', async () => (refreshed.length > 0 ? true : undefined));
    // Once, for the row near max_age only.
    expect(origin.asked('er_near')).toEqual(['near']);
    expect(refreshed).toEqual([[1, false]]);
    // The refreshed row is what the reader serves next, from L1.
    const next = await reader.get(['er_near'], column(['near']), signal);
    expect(next.views[0]).toMatchObject({ sources: ['l1'], rows: [{ eventTime: T0 + 1000, values: [2] }] });
  });

  it('refreshes a row L1 answers synchronously (getNow) too, and counts a refresh the origin fails as failed', async () => {
    const { clock, refreshed, reader, put } = await sides2('er_now');
    origin.route('er_now', (_req, res) => json(res, { error: 'down' }, 503));
    await put(['a'], T0);
    clock.now = T0 + HOUR - 20;
    // Read once into the reader's L1 (from L2), then answered from L1.
    await reader.get(['er_now'], column(['a']), signal);
    await eventually('the first refresh', async () => (refreshed.length > 0 ? true : undefined));
    const now = reader.getNow(['er_now'], column(['a']));
    expect(now?.views[0]?.sources).toEqual(['l1']);
    await eventually('the second refresh', async () => (refreshed.length > 1 ? true : undefined));
    expect(refreshed).toEqual([
      [1, true],
      [1, true],
    ]);
  });

  it('starts no refresh while every slot of the origin is taken, so none queues ahead of the calls that need it', async () => {
    const { clock, refreshed, reader, put } = await sides2('er_busy');
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    origin.route('er_busy', (req, res) => {
      void held.then(() =>
        json(res, { rows: req.entities.map(() => ({ event_time_ms: T0 + 1000, features: { n: 2 } })) }),
      );
    });
    await put(['near'], T0);
    clock.now = T0 + HOUR - 20;
    // A call for an entity Redis lacks takes the origin's one slot and holds it.
    const busy = reader.get(['er_busy'], column(['absent']), signal);
    await eventually('the held origin call', async () =>
      origin.asked('er_busy').length > 0 ? true : undefined,
    );
    // "near" is due, but the origin is saturated: served from L2, no refresh queued.
    const res = await reader.get(['er_busy'], column(['near']), signal);
    expect(res.views[0]?.sources).toEqual(['l2']);
    release();
    await busy;
    await sleep(200);
    expect(origin.asked('er_busy')).toEqual(['absent']);
    expect(refreshed).toEqual([]);
  });

  it('refreshes nothing with beta 0, or for a view without an origin', async () => {
    const keyPrefix = `er-${randomBytes(4).toString('hex')}`;
    const v = view('er_off');
    const plain = toFeatureView(
      {
        name: 'er_plain',
        entities: [{ name: 'id', type: 'string' }],
        features: [{ name: 'n', type: 'int32' }],
        max_age: HOUR,
      },
      { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
    );
    const refreshed: number[] = [];
    const side = await featureSide([v, plain], {
      keyPrefix,
      now: () => T0 + HOUR - 20,
      earlyRefresh: { beta: 0, refreshed: (rows) => refreshed.push(rows), random: () => 0.999 },
    });
    const on = await featureSide([plain], {
      keyPrefix,
      now: () => T0 + HOUR - 20,
      earlyRefresh: { beta: 1, refreshed: (rows) => refreshed.push(rows), random: () => 0.999 },
    });
    sides.push(side, on);
    for (const name of ['er_off', 'er_plain'])
      await side.writer.put(
        {
          view: name,
          entities: column(['x']),
          features: [putColumn({ name: 'n', type: 3, int32_values: [1] })],
          eventTimes: [T0],
        },
        signal,
      );
    await side.reader.get(['er_off'], column(['x']), signal);
    await on.reader.get(['er_plain'], column(['x']), signal);
    await sleep(100);
    expect(refreshed).toEqual([]);
    expect(origin.asked('er_off')).toEqual([]);
  });
});
