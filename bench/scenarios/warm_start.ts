import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMetrics } from '../../src/ops/metrics.js';
import { Popularity } from '../../src/warming/popularity.js';
import { createClient, type InferCacheClient } from '../../test/helpers/client.js';
import { metricSum } from '../../test/helpers/metrics.js';
import { json, startOriginServer } from '../../test/helpers/origin_server.js';
import { redisCommand } from '../../test/helpers/redis_command.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { makeTempDir } from '../../test/helpers/temp_dirs.js';
import { envInt } from '../lib/env.js';
import {
  type Counts,
  l1Ratio,
  l2Ratio,
  SOURCES,
  slidingL1,
  sumCounts,
  zeroCounts,
} from '../lib/hit_windows.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult, Value } from '../lib/report.js';
import { mulberry32, zipfCdf, zipfSampler } from '../lib/rows.js';

const ENTITIES = envInt('BENCH_WARM_ENTITIES', 1_000_000, 1000);
const SKEW = 1.0;
const TOP = 10_000;
// Lookups that teach the first sidecar (and through it the fleet ranking) what is popular.
const LEARN = envInt('BENCH_WARM_LEARN', 1_000_000, 10_000);
// Wall time of the stream measured on each new sidecar, and on the steady one after it learnt.
const SECONDS = envInt('BENCH_WARM_SECONDS', 10, 2);
const STEADY_SECONDS = 5;
// Rows are counted per 100 ms of wall time; the curve is a 1 s window sliding by one bucket.
const BUCKET_MS = 100;
const WINDOW_BUCKETS = 10;
const BATCH = 100;
const CONCURRENCY = 8;
// L1 holds about 3 × TOP feature rows (~250 bytes each here): the hot set, not the tail.
const L1_MAX_BYTES = 8 * 1024 * 1024;
const KEY_PREFIX = 'benchwarm';
const VIEW = 'bench_entities';
const STREAM_SEED = 0x9e3779;

interface Streamed {
  /** Row sources per BUCKET_MS of wall time, by when the answer came. */
  readonly buckets: Counts[];
  readonly lookups: number;
  readonly seconds: number;
}

/**
 * The seeded stream from lookup `from` on, as GetFeatures calls of BATCH
 * entities from CONCURRENCY clients, until `lookups` have been sent or
 * `seconds` have passed (no call starts after that).
 */
async function stream(
  client: InferCacheClient,
  from: number,
  until: { lookups?: number; seconds?: number },
): Promise<Streamed> {
  const next = zipfSampler(cdfOnce(), mulberry32(STREAM_SEED));
  for (let i = 0; i < from; i++) next();
  const buckets: Counts[] = [];
  const most = until.lookups ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  const t0 = performance.now();
  const deadline = until.seconds === undefined ? Number.POSITIVE_INFINITY : t0 + until.seconds * 1000;
  const worker = async () => {
    while (sent < most && performance.now() < deadline) {
      const n = Math.min(BATCH, most - sent);
      sent += n;
      const batch = Array.from({ length: n }, () => String(next() + 1));
      const res = await client.getFeatures({
        features: [VIEW],
        entities: { columns: [{ name: 'id', int64_values: batch }] },
      });
      const at = Math.floor((performance.now() - t0) / BUCKET_MS);
      while (buckets.length <= at) buckets.push(zeroCounts());
      const bucket = buckets[at] as Counts;
      for (const s of res.views[0]?.sources ?? []) bucket[SOURCES[s - 1] ?? 'none']++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { buckets, lookups: sent, seconds: (performance.now() - t0) / 1000 };
}

let cdfCache: Float64Array | undefined;
const cdfOnce = () => {
  cdfCache ??= zipfCdf(ENTITIES, SKEW);
  return cdfCache;
};

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
  type Sidecar = Awaited<ReturnType<typeof startBenchSidecar>>;
  const started = async (label: string, more: Record<string, string>) => {
    const t0 = performance.now();
    const sidecar = await startBenchSidecar(label, redis.url, env(more), KEY_PREFIX);
    return { sidecar, client: createClient(sidecar.grpcAddr), startSeconds: (performance.now() - t0) / 1000 };
  };
  const stop = async (m: { sidecar: Sidecar; client: InferCacheClient }) => {
    m.client.close();
    await stopBenchSidecar(m.sidecar);
  };
  /** A new sidecar, then SECONDS of the stream from the lookup after those the fleet learnt from. */
  const measure = async (label: string, more: Record<string, string>) => {
    const m = await started(label, more);
    try {
      progress(`  ${label}: ${SECONDS} s of Zipf(${SKEW}) over ${ENTITIES} entities, ${BATCH} per call`);
      const run = await stream(m.client, LEARN, { seconds: SECONDS });
      return { ...m, run, metrics: await m.sidecar.metrics() };
    } finally {
      await stop(m);
    }
  };
  try {
    progress('  sketch cost per lookup, in this process');
    const cost = sketchCost();

    // Teach the fleet: one sidecar sees LEARN lookups, then STEADY_SECONDS more (its steady state).
    const learner = await started('steady', { INFERCACHE_WARM_START_BUDGET_MS: '0' });
    let steady: { run: Streamed; metrics: string; startSeconds: number };
    let ranked: number;
    try {
      progress(`  steady: ${LEARN} lookups to learn from, then ${STEADY_SECONDS} s measured`);
      await stream(learner.client, 0, { lookups: LEARN });
      const run = await stream(learner.client, LEARN, { seconds: STEADY_SECONDS });
      steady = { run, metrics: await learner.sidecar.metrics(), startSeconds: learner.startSeconds };
      const ranking = `${KEY_PREFIX}:popular:${VIEW}`;
      const port = Number(new URL(redis.url).port);
      for (let i = 0; i < 100; i++) {
        if (Number(await redisCommand(port, ['ZCARD', ranking])) >= TOP) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      ranked = Number(await redisCommand(port, ['ZCARD', ranking]));
    } finally {
      await stop(learner);
    }

    const cold = await measure('cold', { INFERCACHE_WARM_START_BUDGET_MS: '0' });
    const warmed = await measure('warmed', { INFERCACHE_WARM_START_BUDGET_MS: '60000' });

    const measured = (run: Streamed, seconds: number) => run.buckets.slice(0, (seconds * 1000) / BUCKET_MS);
    const steadyL1 = l1Ratio(sumCounts(measured(steady.run, STEADY_SECONDS)));
    const firstSecond = (run: Streamed) => l1Ratio(sumCounts(run.buckets.slice(0, WINDOW_BUCKETS)));
    const firstSeconds = (run: Streamed) => l1Ratio(sumCounts(measured(run, SECONDS)));
    // The start of the first 1 s window at 90% of the steady state: 0 when the first second already is.
    const reach = (run: Streamed): Value => {
      const w = slidingL1(measured(run, SECONDS), WINDOW_BUCKETS).findIndex((r) => r >= 0.9 * steadyL1);
      return w === -1 ? `> ${SECONDS - 1}` : (w * BUCKET_MS) / 1000;
    };
    const phase = (
      m: { run: Streamed; metrics: string; startSeconds: number },
      seconds: number,
    ): Record<string, Value> => {
      const c = sumCounts(measured(m.run, seconds));
      return {
        l1HitRatioFirstSecond: firstSecond(m.run),
        l1HitRatio: l1Ratio(c),
        l2HitRatio: l2Ratio(c),
        secondsTo90PctOfSteady: reach(m.run),
        lookups: m.run.lookups,
        lookupsPerSecond: m.run.lookups / m.run.seconds,
        secondsToServing: m.startSeconds,
        warmedRows: metricSum(m.metrics, 'infercache_warm_rows_total', { kind: 'f', result: 'warmed' }),
        l1Entries: metricSum(m.metrics, 'infercache_l1_entries'),
      };
    };
    const ratio = (r: number) => r / steadyL1;
    return {
      name: 'warm_start',
      title: `the first ${SECONDS} s of GetFeatures lookups on a new sidecar, Zipf(${SKEW}) over ${ENTITIES} entities: cold vs warmed from the fleet ranking vs steady state`,
      settings: {
        entities: ENTITIES,
        learnLookups: LEARN,
        seconds: SECONDS,
        steadySeconds: STEADY_SECONDS,
        windowMs: WINDOW_BUCKETS * BUCKET_MS,
        stepMs: BUCKET_MS,
        batch: BATCH,
        concurrency: CONCURRENCY,
        warmTop: TOP,
        l1MaxBytes: L1_MAX_BYTES,
        rankedEntities: ranked,
      },
      ratios: {
        'warmed/steady L1 hit ratio, first second': {
          value: ratio(firstSecond(warmed.run)),
          target: '>= 0.9',
          met: ratio(firstSecond(warmed.run)) >= 0.9,
        },
        [`warmed/steady L1 hit ratio, first ${SECONDS} s`]: { value: ratio(firstSeconds(warmed.run)) },
        'cold/steady L1 hit ratio, first second': { value: ratio(firstSecond(cold.run)) },
        [`cold/steady L1 hit ratio, first ${SECONDS} s`]: { value: ratio(firstSeconds(cold.run)) },
        'steady L1 hit ratio': { value: steadyL1 },
      },
      phases: {
        steady: phase(steady, STEADY_SECONDS),
        cold: phase(cold, SECONDS),
        warmed: phase(warmed, SECONDS),
      },
      notes: [
        `Popularity tracking (sketch of capacity ${ENTITIES} + top-${TOP}), measured in the bench process: ${cost.nsPerLookup.toFixed(0)} ns per lookup; sketch ${cost.sketchBytes} bytes (infercache_popularity_sketch_bytes), plus the top-K's ${cost.topKEntries} entries (key, estimate, join values). Most of the cost is the top-K update of a hot entity, not the sketch.`,
        `Every sidecar shares one Redis (rows from an HTTP origin on first use, then L2). The steady sidecar learns from the first ${LEARN} lookups of the stream, then its next ${STEADY_SECONDS} s give the steady state; the cold and the warmed sidecar each replay the stream from that same point for ${SECONDS} s of wall time. Hit ratios count the row sources of GetFeatures answers by the 100 ms in which they came: first second, first ${SECONDS} s; secondsTo90PctOfSteady is the start of the first 1 s window (sliding by 100 ms) whose L1 hit ratio reaches 90% of the steady state's (0: the first second already does).`,
      ],
      details: {
        // L1 hit ratio of each 1 s window, one every 100 ms.
        curves: {
          steady: slidingL1(measured(steady.run, STEADY_SECONDS), WINDOW_BUCKETS),
          cold: slidingL1(measured(cold.run, SECONDS), WINDOW_BUCKETS),
          warmed: slidingL1(measured(warmed.run, SECONDS), WINDOW_BUCKETS),
        },
        sketch: cost,
      },
    };
  } finally {
    await origin.close();
  }
}
