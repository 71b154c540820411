import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMetrics } from '../../src/ops/metrics.js';
import { Popularity } from '../../src/warming/popularity.js';
import { createClient, type InferCacheClient } from '../../test/helpers/client.js';
import { json, startOriginServer } from '../../test/helpers/origin_server.js';
import { redisCommand } from '../../test/helpers/redis_command.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { makeTempDir } from '../../test/helpers/temp_dirs.js';
import { envInt } from '../lib/env.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import { metricSum } from '../lib/prom.js';
import type { ScenarioResult, Value } from '../lib/report.js';
import { mulberry32, zipfCdf, zipfSampler } from '../lib/rows.js';

const ENTITIES = envInt('BENCH_WARM_ENTITIES', 1_000_000, 1000);
const SKEW = 1.0;
const TOP = 10_000;
// Lookups that teach the first sidecar (and through it the fleet ranking) what is popular.
const LEARN = envInt('BENCH_WARM_LEARN', 1_000_000, 10_000);
// The first lookups of each measured sidecar, and the window of the curve.
const FIRST = envInt('BENCH_WARM_FIRST', 100_000, 10_000);
const WINDOW = 10_000;
const BATCH = 100;
const CONCURRENCY = 8;
// L1 holds about 3 × TOP feature rows (~250 bytes each here): the hot set, not the tail.
const L1_MAX_BYTES = 8 * 1024 * 1024;
const KEY_PREFIX = 'benchwarm';
const VIEW = 'bench_entities';
const STREAM_SEED = 0x9e3779;
const SOURCES = ['l1', 'l2', 'origin', 'none'] as const;

type Counts = Record<(typeof SOURCES)[number], number>;
const zero = (): Counts => ({ l1: 0, l2: 0, origin: 0, none: 0 });

/** Lookups [from, from + n) of the seeded stream, as GetFeatures calls of BATCH entities; row sources per window. */
async function lookups(client: InferCacheClient, from: number, n: number): Promise<Counts[]> {
  const cdf = cdfOnce();
  const next = zipfSampler(cdf, mulberry32(STREAM_SEED));
  for (let i = 0; i < from; i++) next();
  const ids = Array.from({ length: n }, () => String(next() + 1));
  const windows: Counts[] = Array.from({ length: Math.ceil(n / WINDOW) }, zero);
  let at = 0;
  const worker = async () => {
    while (at < n) {
      const start = at;
      at += BATCH;
      const batch = ids.slice(start, start + BATCH);
      const res = await client.getFeatures({
        features: [VIEW],
        entities: { columns: [{ name: 'id', int64_values: batch }] },
      });
      (res.views[0]?.sources ?? []).forEach((s, k) => {
        const w = windows[Math.floor((start + k) / WINDOW)] as Counts;
        w[SOURCES[s - 1] ?? 'none']++;
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return windows;
}

let cdfCache: Float64Array | undefined;
const cdfOnce = () => {
  cdfCache ??= zipfCdf(ENTITIES, SKEW);
  return cdfCache;
};

const sum = (ws: readonly Counts[]): Counts => {
  const t = zero();
  for (const w of ws) for (const s of SOURCES) t[s] += w[s];
  return t;
};
const l1Ratio = (c: Counts) => c.l1 / (c.l1 + c.l2 + c.origin + c.none);
const l2Ratio = (c: Counts) => c.l2 / (c.l1 + c.l2 + c.origin + c.none);

/** Cost per lookup of popularity tracking (sketch + top-K) in this process, and its memory. */
function sketchCost(): { nsPerLookup: number; sketchBytes: number; topKEntries: number } {
  const stream = zipfSampler(cdfOnce(), mulberry32(7));
  const hashes = Array.from({ length: 1_000_000 }, () =>
    (Math.imul(stream() + 1, 0x9e3779b1) >>> 0).toString(16).padStart(32, '0'),
  );
  const popularity = new Popularity({ capacity: ENTITIES, topK: TOP }, createMetrics().warming);
  const values = () => ['0'];
  // In lookups of BATCH entities, as the sidecar tells it of each GetFeatures call.
  const lookups = Array.from({ length: Math.ceil(hashes.length / BATCH) }, (_, i) =>
    hashes.slice(i * BATCH, (i + 1) * BATCH),
  );
  for (const l of lookups) popularity.seenAll(VIEW, l, values); // JIT and top-K filled
  const rounds = 5;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) for (const l of lookups) popularity.seenAll(VIEW, l, values);
  const nsPerLookup = ((performance.now() - started) * 1e6) / (rounds * hashes.length);
  const topKEntries = popularity.top(VIEW, TOP).length;
  return { nsPerLookup, sketchBytes: nextPow2(Math.ceil(ENTITIES / 2)) * 4, topKEntries };
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

export async function warmStart(redis: RedisServer): Promise<ScenarioResult> {
  const origin = await startOriginServer();
  // Any entity exists: the origin makes its row from its id, as a feature service would.
  origin.route('rows', (req, res) =>
    json(res, {
      rows: req.entities.map((e) => {
        const id = Number(e.id);
        return {
          event_time_ms: Date.now(),
          features: { f0: id % 97, f1: id % 89, f2: id % 83, f3: id % 79 },
        };
      }),
    }),
  );
  const views = join(makeTempDir('bench-warm-'), 'views.json');
  writeFileSync(
    views,
    JSON.stringify({
      views: [
        {
          name: VIEW,
          entities: [{ name: 'id', type: 'int64' }],
          features: ['f0', 'f1', 'f2', 'f3'].map((name) => ({ name, type: 'float32' })),
          max_age: '24h',
          origin: { url: origin.url('rows'), timeout: '5s', concurrency: 4, max_batch: 1000 },
        },
      ],
    }),
  );
  const env = (more: Record<string, string>) => ({
    INFERCACHE_FEATURE_VIEWS: views,
    INFERCACHE_L1_MAX_BYTES: String(L1_MAX_BYTES),
    INFERCACHE_L1_SHARES: 'f=1',
    INFERCACHE_POPULARITY_CAPACITY: String(ENTITIES),
    INFERCACHE_POPULARITY_TOP_K: String(TOP),
    INFERCACHE_POPULARITY_PUBLISH_MS: '1000',
    INFERCACHE_WARM_TOP: String(TOP),
    ...more,
  });
  const measure = async (label: string, more: Record<string, string>, from: number, n: number) => {
    const t0 = performance.now();
    const sidecar = await startBenchSidecar(label, redis.url, env(more), KEY_PREFIX);
    const startSeconds = (performance.now() - t0) / 1000;
    const client = createClient(sidecar.grpcAddr);
    try {
      progress(`  ${label}: ${n} lookups, Zipf(${SKEW}) over ${ENTITIES} entities, ${BATCH} per call`);
      const t1 = performance.now();
      const windows = await lookups(client, from, n);
      const seconds = (performance.now() - t1) / 1000;
      return { sidecar, client, windows, seconds, startSeconds, metrics: await sidecar.metrics() };
    } catch (error) {
      client.close();
      await stopBenchSidecar(sidecar);
      throw error;
    }
  };
  const stop = async (m: { sidecar: Parameters<typeof stopBenchSidecar>[0]; client: InferCacheClient }) => {
    m.client.close();
    await stopBenchSidecar(m.sidecar);
  };
  try {
    progress('  sketch cost per lookup, in this process');
    const cost = sketchCost();

    // Teach the fleet: one sidecar sees LEARN lookups, then FIRST more (its steady state).
    const steady = await measure('steady', { INFERCACHE_WARM_START_BUDGET_MS: '0' }, 0, LEARN + FIRST);
    const ranking = `${KEY_PREFIX}:popular:${VIEW}`;
    const port = Number(new URL(redis.url).port);
    for (let i = 0; i < 100; i++) {
      const n = Number(await redisCommand(port, ['ZCARD', ranking]));
      if (n >= TOP) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const ranked = Number(await redisCommand(port, ['ZCARD', ranking]));
    await stop(steady);

    const cold = await measure('cold', { INFERCACHE_WARM_START_BUDGET_MS: '0' }, LEARN, FIRST);
    await stop(cold);
    const warmed = await measure('warmed', { INFERCACHE_WARM_START_BUDGET_MS: '60000' }, LEARN, FIRST);
    await stop(warmed);

    const steadyWindows = steady.windows.slice(Math.ceil(LEARN / WINDOW));
    const steadyL1 = l1Ratio(sum(steadyWindows));
    const reach = (ws: readonly Counts[]) => {
      const w = ws.findIndex((c) => l1Ratio(c) >= 0.9 * steadyL1);
      return w === -1 ? Number.POSITIVE_INFINITY : w * WINDOW;
    };
    const phase = (
      m: { windows: Counts[]; seconds: number; startSeconds: number; metrics: string },
      ws: readonly Counts[],
    ): Record<string, Value> => {
      const c = sum(ws);
      return {
        l1HitRatio: l1Ratio(c),
        l2HitRatio: l2Ratio(c),
        firstWindowL1: l1Ratio(ws[0] as Counts),
        lookupsTo90PctOfSteady: reach(ws),
        secondsToServing: m.startSeconds,
        lookupsPerSecond: (m.windows.length * WINDOW) / m.seconds,
        warmedRows: metricSum(m.metrics, 'infercache_warm_rows_total', { kind: 'f', result: 'warmed' }),
        l1Entries: metricSum(m.metrics, 'infercache_l1_entries'),
      };
    };
    const warmedL1 = l1Ratio(sum(warmed.windows));
    const coldL1 = l1Ratio(sum(cold.windows));
    return {
      name: 'warm_start',
      title: `first ${FIRST} GetFeatures lookups of a new sidecar, Zipf(${SKEW}) over ${ENTITIES} entities: cold vs warmed from the fleet ranking vs steady state`,
      settings: {
        entities: ENTITIES,
        learnLookups: LEARN,
        firstLookups: FIRST,
        window: WINDOW,
        batch: BATCH,
        concurrency: CONCURRENCY,
        warmTop: TOP,
        l1MaxBytes: L1_MAX_BYTES,
        rankedEntities: ranked,
      },
      ratios: {
        'warmed/steady L1 hit ratio': {
          value: warmedL1 / steadyL1,
          target: '>= 0.9',
          met: warmedL1 / steadyL1 >= 0.9,
        },
        'cold/steady L1 hit ratio': { value: coldL1 / steadyL1 },
        'steady L1 hit ratio': { value: steadyL1 },
      },
      phases: {
        steady: phase(steady, steadyWindows),
        cold: phase(cold, cold.windows),
        warmed: phase(warmed, warmed.windows),
      },
      notes: [
        `Popularity tracking (sketch of capacity ${ENTITIES} + top-${TOP}), measured in the bench process: ${cost.nsPerLookup.toFixed(0)} ns per lookup; sketch ${cost.sketchBytes} bytes (infercache_popularity_sketch_bytes), plus the top-K's ${cost.topKEntries} entries (key, estimate, join values). Most of the cost is the top-K update of a hot entity, not the sketch.`,
        'Every sidecar shares one Redis (rows from an HTTP origin on first use, then L2); the cold and warmed sidecars replay the same stream segment, right after the lookups the steady sidecar learnt from. Hit ratios count the row sources of GetFeatures responses.',
      ],
      details: {
        curves: {
          steady: steadyWindows.map(l1Ratio),
          cold: cold.windows.map(l1Ratio),
          warmed: warmed.windows.map(l1Ratio),
        },
        sketch: cost,
      },
    };
  } finally {
    await origin.close();
  }
}
