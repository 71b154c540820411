import { performance } from 'node:perf_hooks';
import { createClient, type InferCacheClient } from '../../test/helpers/client.js';
import { metricSum } from '../../test/helpers/metrics.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { closedLoop, cpuColumns, warmUp } from '../lib/load.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult, Value } from '../lib/report.js';
import { heavyRequest, heavyRow, irisRequest, mulberry32, zipfCdf, zipfSampler } from '../lib/rows.js';
import { ratio, summarize } from '../lib/stats.js';

const DISTINCT = 100_000;
const L1_ENTRIES = 10_000; // 10% of the distinct rows
const SKEW = 1.0;
const CONCURRENCY = 16;
const PHASE_MS = 15_000;
// At a few hundred single-row misses/s a cold L1 does not even fill within
// the window (no evictions, so no L2 hits). The stream's first samples are
// replayed first, in batches: ~15k distinct rows, more than L1 holds.
const WARMUP_SAMPLES = envInt('BENCH_ZIPF_WARMUP', 50_000, 0);
const WARMUP_BATCH = 512;
const ROW_SEED = 0x21bf;
const STREAM_SEED = 0x5eed;
// Same prefix on the probe and the measured sidecar: the key length is part of an entry's size.
const KEY_PREFIX = 'benchzipf';
const L1_SHARES = 'p=1';
// The warm-up below reproduces an LRU's content only; W-TinyLFU's depends on
// how often each row was seen, which a replay in batches does not give it.
const L1_POLICY = 'p=lru';
type Source = 'l1' | 'l2' | 'model';
const SOURCES: readonly Source[] = ['l1', 'l2', 'model']; // RowSource 1, 2, 3

/** L1 bytes per heavy-row entry, measured on a throwaway L1-only sidecar. */
async function bytesPerEntry(): Promise<number> {
  const probe = await startBenchSidecar('zipf: bytes-per-entry probe, L1 only', '', {}, KEY_PREFIX);
  const client = createClient(probe.grpcAddr);
  try {
    for (let b = 0; b < 8; b++) {
      const rows = Array.from({ length: 256 }, (_, j) => heavyRow(ROW_SEED + 1, b * 256 + j));
      await client.predict(heavyRequest(Buffer.concat(rows), 256));
    }
    const text = await probe.metrics();
    return metricSum(text, 'infercache_l1_size_bytes') / metricSum(text, 'infercache_l1_entries');
  } finally {
    client.close();
    await stopBenchSidecar(probe);
  }
}

/**
 * Computes the distinct rows of the first `samples` of the stream, oldest
 * last use first: an LRU's content depends only on that order, so L1 and L2
 * end exactly as after sending the samples one by one, at batch speed.
 */
async function warmUpCache(client: InferCacheClient, next: () => number, samples: number): Promise<number> {
  const lastUse = new Map<number, true>();
  for (let i = 0; i < samples; i++) {
    const row = next();
    lastUse.delete(row); // Re-inserting moves it to the end of the Map's order.
    lastUse.set(row, true);
  }
  const order = [...lastUse.keys()];
  for (let i = 0; i < order.length; i += WARMUP_BATCH) {
    const rows = order.slice(i, i + WARMUP_BATCH).map((r) => heavyRow(ROW_SEED, r));
    await client.predict(heavyRequest(Buffer.concat(rows), rows.length));
  }
  return order.length;
}

/** Stream position `skip` onwards: the same seeded sequence in every phase. */
function streamFrom(cdf: Float64Array, skip: number): () => number {
  const next = zipfSampler(cdf, mulberry32(STREAM_SEED));
  for (let i = 0; i < skip; i++) next();
  return next;
}

function shares(buckets: readonly (Record<Source, number> | undefined)[]): Record<Source, number> {
  const total = { l1: 0, l2: 0, model: 0 };
  for (const b of buckets) for (const s of SOURCES) total[s] += b?.[s] ?? 0;
  const rows = total.l1 + total.l2 + total.model;
  return { l1: total.l1 / rows, l2: total.l2 / rows, model: total.model / rows };
}

export async function zipf(redis: RedisServer): Promise<ScenarioResult> {
  const perEntry = await bytesPerEntry();
  const l1MaxBytes = Math.ceil(L1_ENTRIES * perEntry);
  await redis.flushAll(); // The L2 starts empty.
  // L1's budget is split between kinds; this stream has predictions only,
  // so they get all of it, or the L1 would hold half the entries it is sized for.
  const sidecar = await startBenchSidecar(
    'zipf',
    redis.url,
    {
      INFERCACHE_L1_MAX_BYTES: String(l1MaxBytes),
      INFERCACHE_L1_SHARES: L1_SHARES,
      INFERCACHE_L1_POLICY: L1_POLICY,
    },
    KEY_PREFIX,
  );
  const client = createClient(sidecar.grpcAddr);
  const cdf = zipfCdf(DISTINCT, SKEW);
  const phases: ScenarioResult['phases'] = {};
  const details: Record<string, unknown> = {};
  const rps: Record<string, number> = {};
  let cacheShares = { all: { l1: 0, l2: 0, model: 0 }, lastHalf: { l1: 0, l2: 0, model: 0 } };
  let warmRows = 0;
  try {
    progress(`  warm-up: first ${WARMUP_SAMPLES} samples of the stream, as ${WARMUP_BATCH}-row batches`);
    warmRows = await warmUpCache(client, streamFrom(cdf, 0), WARMUP_SAMPLES);
    // Warms the JIT on the single-row path without touching the heavy model's cache.
    const iris = irisRequest();
    await warmUp({
      concurrency: CONCURRENCY,
      warmupCalls: 5000,
      warmupMs: 5000,
      call: () => client.predict(iris),
    });
    const warm = await sidecar.metrics();
    details.warmup = {
      l1Entries: metricSum(warm, 'infercache_l1_entries'),
      l1Evictions: metricSum(warm, 'infercache_l1_evictions_total'),
      l2DroppedWrites: metricSum(warm, 'infercache_l2_dropped_writes_total'),
    };
    for (const bypass of [false, true]) {
      const name = bypass ? 'bypass' : 'cache';
      progress(
        `  ${name}: Zipf(${SKEW}) stream over ${DISTINCT} rows, ${CONCURRENCY} in flight, ${PHASE_MS} ms`,
      );
      const next = streamFrom(cdf, WARMUP_SAMPLES);
      // Row sources per second of the phase, to see the trend as well as the total.
      const perSecond: (Record<Source, number> | undefined)[] = [];
      let t0: number | undefined;
      const before = await sidecar.metrics();
      const run = await closedLoop({
        concurrency: CONCURRENCY,
        durationMs: PHASE_MS,
        serverPid: sidecar.proc.pid,
        call: async () => {
          const res = await client.predict(heavyRequest(heavyRow(ROW_SEED, next()), 1, bypass));
          t0 ??= performance.now();
          const second = Math.floor((performance.now() - t0) / 1000);
          const bucket = perSecond[second] ?? { l1: 0, l2: 0, model: 0 };
          perSecond[second] = bucket;
          for (const s of res.row_sources) bucket[SOURCES[s - 1] ?? 'model']++;
        },
      });
      const after = await sidecar.metrics();
      const delta = (metric: string, labels: Record<string, string> = {}) =>
        metricSum(after, metric, labels) - metricSum(before, metric, labels);
      const all = shares(perSecond);
      const lastHalf = shares(perSecond.slice(Math.floor(perSecond.length / 2)));
      const lat = summarize(run.latenciesMs);
      const row: Record<string, Value> = { rps: run.rps, p50Ms: lat.p50Ms, p99Ms: lat.p99Ms };
      for (const s of SOURCES) row[`${s}Pct`] = 100 * all[s];
      Object.assign(row, { requests: run.requests, errors: run.errors }, cpuColumns([run]));
      phases[name] = row;
      rps[name] = run.rps;
      if (!bypass) cacheShares = { all, lastHalf };
      details[name] = {
        perSecond,
        metricsDelta: {
          rowsL1: delta('infercache_rows_total', { model: 'heavy', source: 'l1' }),
          rowsL2: delta('infercache_rows_total', { model: 'heavy', source: 'l2' }),
          rowsModel: delta('infercache_rows_total', { model: 'heavy', source: 'model' }),
          l1Evictions: delta('infercache_l1_evictions_total'),
          l2Errors: delta('infercache_redis_errors_total'),
          l2DroppedWrites: delta('infercache_l2_dropped_writes_total'),
        },
        l1EntriesAtEnd: metricSum(after, 'infercache_l1_entries'),
      };
    }
  } finally {
    client.close();
    await stopBenchSidecar(sidecar);
  }
  // Set whenever we get here: a failed cache phase throws out of the loop.
  const d = details.cache as { metricsDelta: Record<string, number>; l1EntriesAtEnd: number };
  const m = d.metricsDelta;
  return {
    name: 'zipf',
    title: `single-row Predict, Zipf(${SKEW}) over ${DISTINCT} heavy rows, L1 sized for ${L1_ENTRIES}`,
    settings: {
      distinctRows: DISTINCT,
      l1Entries: L1_ENTRIES,
      bytesPerEntry: perEntry,
      l1MaxBytes,
      l1Shares: L1_SHARES,
      l1Policy: L1_POLICY,
      warmupSamples: WARMUP_SAMPLES,
      warmupDistinctRows: warmRows,
      concurrency: CONCURRENCY,
      phaseMs: PHASE_MS,
    },
    ratios: {
      'throughput cache/bypass': { value: ratio(rps.cache as number, rps.bypass as number) },
      'L1 hit ratio': { value: cacheShares.all.l1 },
      'L2 hit ratio': { value: cacheShares.all.l2 },
      'L1 hit ratio, last half': { value: cacheShares.lastHalf.l1 },
      'L2 hit ratio, last half': { value: cacheShares.lastHalf.l2 },
    },
    phases,
    notes: [
      'Redis is flushed, then the warm-up replays the stream prefix; hit ratios count the response row_sources of the measured window (the stream after the prefix).',
      `Cross-check from /metrics (cache phase): infercache_rows_total l1=${m.rowsL1} l2=${m.rowsL2} model=${m.rowsModel}; ` +
        `L1 evictions ${m.l1Evictions}, L1 entries at end ${d.l1EntriesAtEnd}, L2 errors ${m.l2Errors}, dropped L2 writes ${m.l2DroppedWrites}.`,
    ],
    details,
  };
}
