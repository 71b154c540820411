import { describe, expect, it } from 'vitest';
import type { EntityColumnWire } from '../../src/features/entity_keys.js';
import type { FeatureReader } from '../../src/features/get_features.js';
import type { FeatureView } from '../../src/features/view.js';
import { createMetrics } from '../../src/ops/metrics.js';
import type { FleetRanking } from '../../src/warming/fleet_ranking.js';
import { Warmer } from '../../src/warming/warmer.js';
import { memoryLog } from '../helpers/memory_log.js';
import { metricValue } from '../helpers/metrics.js';

const BATCH = 10;
const view = { name: 'v', joinKeys: [{ name: 'id', type: 'int64' }] } as unknown as FeatureView;
const entities = (n: number) => Array.from({ length: n }, (_, i) => [String(i)]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const never = new AbortController().signal;

/** A warmer whose batches are whatever each test passes to warm(). */
function warmer(concurrency: number, rowsPerSecond = 1_000_000) {
  const metrics = createMetrics();
  const w = new Warmer({
    reader: {} as FeatureReader,
    ranking: {} as FleetRanking,
    popularity: { top: () => [] },
    views: () => new Map(),
    batch: BATCH,
    rowsPerSecond,
    concurrency,
    versionsReading: () => [],
    viewsOf: () => [],
    warmVersion: async () => {},
    metrics: metrics.warming,
    log: memoryLog().log,
  });
  const metric = async (name: string, labels: Record<string, string>) =>
    metricValue(await metrics.registry.metrics(), name, labels) ?? 0;
  return { w, metric };
}

/** A batch that takes `ms`, recording how many ran at once and when each started. */
function batches(ms: number) {
  const seen = { running: 0, most: 0, started: [] as number[], rows: [] as number[] };
  const t0 = performance.now();
  const each = async (columns: EntityColumnWire[], signal: AbortSignal) => {
    seen.started.push(performance.now() - t0);
    seen.rows.push(columns[0]?.int64_values.length ?? 0);
    seen.running++;
    seen.most = Math.max(seen.most, seen.running);
    try {
      await Promise.race([
        sleep(ms),
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      ]);
    } finally {
      seen.running--;
    }
  };
  return { seen, each };
}

describe('Warmer', () => {
  it('runs a warm’s batches in parallel, up to the concurrency', async () => {
    const { w } = warmer(3);
    const { seen, each } = batches(30);
    const result = await w.warm(view, entities(100), 'request', never, () => {}, each);
    expect(result).toMatchObject({ done: 100, total: 100, failed: 0 });
    expect(seen.most).toBe(3);
    expect(seen.running).toBe(0);
  });

  it('runs one batch at a time at a concurrency of 1', async () => {
    const { w } = warmer(1);
    const { seen, each } = batches(10);
    const progress: number[] = [];
    const result = await w.warm(view, entities(45), 'request', never, (p) => progress.push(p.done), each);
    expect(result).toMatchObject({ done: 45, total: 45 });
    expect(seen.most).toBe(1);
    expect(seen.rows).toEqual([10, 10, 10, 10, 5]);
    expect(progress).toEqual([10, 20, 30, 40, 45]);
  });

  it('shares the concurrency between warms in progress', async () => {
    const { w } = warmer(4);
    const { seen, each } = batches(20);
    await Promise.all([
      w.warm(view, entities(60), 'request', never, () => {}, each),
      w.warm(view, entities(60), 'schedule', never, () => {}, each),
    ]);
    expect(seen.most).toBe(4);
  });

  it('starts batches no faster than the rate limit, in parallel or not', async () => {
    // 20 rows per second: two batches of 10 at once (a second's burst), then one every half second.
    // The clock of the starts begins before the limiter's: a start is never measured earlier than it was.
    const { seen, each } = batches(5);
    const { w } = warmer(4, 20);
    await w.warm(view, entities(60), 'request', never, () => {}, each);
    seen.started.forEach((ms, k) => {
      const rowsStarted = (k + 1) * BATCH;
      // 15 ms of slack for timers that fire early on a loaded machine.
      expect(rowsStarted, `batch ${k} at ${ms.toFixed(0)} ms`).toBeLessThanOrEqual(
        20 + (20 * (ms + 15)) / 1000,
      );
    });
  });

  it('stops when its signal fires: no batch starts after, and the ones under way end before it returns', async () => {
    const { w, metric } = warmer(3);
    const { seen, each } = batches(50);
    const controller = new AbortController();
    const warming = w.warm(view, entities(1000), 'request', controller.signal, () => {}, each);
    await sleep(120);
    controller.abort(new Error('cancelled'));
    const startedAtAbort = seen.started.length;
    const result = await warming;
    expect(seen.running).toBe(0);
    expect(seen.started.length).toBe(startedAtAbort);
    expect(result.done).toBeLessThan(1000);
    expect(result.failed).toBe(0);
    expect(await metric('infercache_warm_runs_total', { trigger: 'request', outcome: 'cancelled' })).toBe(1);
    expect(await metric('infercache_warm_rows_total', { kind: 'f', result: 'skipped' })).toBe(
      1000 - result.done,
    );
  });

  it('takes the most popular from the fleet ranking, or without Redis from the sidecar’s own', async () => {
    const deps = (shared: boolean) => ({
      reader: {} as FeatureReader,
      ranking: { shared, top: async () => [['7'], ['8']] } as unknown as FleetRanking,
      popularity: { top: () => [{ values: ['1'], estimate: 5 }] },
      views: () => new Map(),
      batch: BATCH,
      rowsPerSecond: 1000,
      concurrency: 1,
      versionsReading: () => [],
      viewsOf: () => [],
      warmVersion: async () => {},
      metrics: createMetrics().warming,
      log: memoryLog().log,
    });
    expect(await new Warmer(deps(true)).popular(view, 2)).toEqual({
      entities: [['7'], ['8']],
      ranking: 'fleet',
    });
    expect(await new Warmer(deps(false)).popular(view, 2)).toEqual({ entities: [['1']], ranking: 'local' });
  });

  it('counts a batch that fails as failed, and goes on with the others', async () => {
    const { w, metric } = warmer(2);
    let calls = 0;
    const each = async () => {
      calls++;
      await sleep(5);
      if (calls === 2) throw new Error('origin down');
    };
    const result = await w.warm(view, entities(40), 'request', never, () => {}, each);
    expect(result).toMatchObject({ done: 30, failed: 10, total: 40 });
    expect(await metric('infercache_warm_rows_total', { kind: 'f', result: 'failed' })).toBe(10);
    expect(await metric('infercache_warm_runs_total', { trigger: 'request', outcome: 'done' })).toBe(1);
  });
});
