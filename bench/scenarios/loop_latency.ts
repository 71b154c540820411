import { createClient } from '../../test/helpers/client.js';
import { metricSum } from '../../test/helpers/metrics.js';
import { PREDICT } from '../../test/helpers/raw_call.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { serializeRequest } from '../../test/helpers/wire.js';
import { closedLoop, cpuColumns, type LoadRun } from '../lib/load.js';
import { progress } from '../lib/log.js';
import { startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult } from '../lib/report.js';
import { HEAVY_COLS, heavyRequest, irisRequest, mulberry32, randomFloats } from '../lib/rows.js';
import { ratio, summarize } from '../lib/stats.js';
import { startThreadSender } from '../lib/thread_sender.js';

const ROUNDS = 2;
const PHASE_MS = 4000;
const SETTLE_MS = 500;
// A phase's stream, settle included, takes 60 to 120 batches here: enough
// that none is made on the spot while the probe is timed.
const BATCH_STOCK = 160;
const BACKGROUND_ROWS = 512;
const LAG_RESOLUTION_MS = 10;
// Small enough that the stream's rows (about 0.5 KiB each in L1, ~15 MiB of
// them over a run) pass the predictions' share (half) several times over:
// the bound line at the end then says how well L1 keeps to a bound it is
// pressed against, not that it never got there.
const L1_MAX_BYTES = 8 * 2 ** 20;
// The byte bound L1 keeps to, counted and (in the arena) held: within 2%.
const BOUND_SLACK = 1.02;

/**
 * Does model work starve the event loop? The probe is one L1-hit call at a
 * time (so its latency is the path's, not queueing behind its own calls),
 * measured alone and while 512-row batches of fresh rows (real misses: hashed,
 * looked up in L1 and L2, run, written back) run back to back. The
 * background stream has its own channel: different callers have different
 * connections, and sharing one would measure HTTP/2 head-of-line blocking.
 * It is sent, pre-encoded, from a thread of its own and its answers are not
 * decoded: encoding and decoding 512-row messages on the probe's event loop
 * held the probe's calls up in this process, which was then counted as the
 * sidecar's latency.
 * L1 is bounded to L1_MAX_BYTES, which the stream fills past; after the run
 * the sidecar's own /metrics say how close to that bound L1 stayed, and its
 * RSS.
 */
export async function loopLatency(redis: RedisServer): Promise<ScenarioResult> {
  // BENCH_L1_ARENA sets the sidecar's INFERCACHE_L1_ARENA, to compare layouts in one checkout.
  const arena = process.env.BENCH_L1_ARENA;
  const sidecar = await startBenchSidecar('loop_latency', redis.url, {
    INFERCACHE_L1_MAX_BYTES: String(L1_MAX_BYTES),
    ...(arena === undefined ? {} : { INFERCACHE_L1_ARENA: arena }),
  });
  const probeClient = createClient(sidecar.grpcAddr);
  const sender = startThreadSender(sidecar.grpcAddr);
  const probe = irisRequest();
  // Fresh random rows on every call: each batch is all misses, with caching
  // on. Made before each loaded phase, so the bench's own random-number
  // generation does not compete for the 2 cores while latency is measured
  // (a phase takes 60 to 120 batches; past the stock a batch is made on the spot).
  const rng = mulberry32(0x10a0);
  // Each batch its own ArrayBuffer: it is moved to the sender thread.
  const makeBatch = () =>
    new Uint8Array(
      serializeRequest(heavyRequest(randomFloats(rng, BACKGROUND_ROWS * HEAVY_COLS), BACKGROUND_ROWS, false)),
    );
  let stock: Uint8Array[] = [];
  let madeOnTheSpot = 0;
  const freshBatch = () => {
    const batch = stock.pop();
    if (batch !== undefined) return batch;
    madeOnTheSpot++;
    return makeBatch();
  };
  const sendBatch = async () => {
    const outcome = await sender.send(PREDICT, freshBatch());
    if (outcome.code !== 0) throw new Error(`background batch: ${outcome.code} ${outcome.details}`);
  };
  const runs = { alone: [] as LoadRun[], loaded: [] as LoadRun[] };
  // The sidecar's own event-loop delay (prom-client resets it on every
  // scrape): high with the probe's p99 means the loop was blocked; low means
  // the probe waited for a CPU (2 cores, more busy threads than that).
  const lag = { alone: { p99: 0, max: 0 }, loaded: { p99: 0, max: 0 } };
  // prom-client samples every 10 ms and its numbers include that interval
  // (an idle process reports ~10.2 ms); subtracting it leaves the delay.
  const readLag = async (into: { p99: number; max: number }) => {
    const text = await sidecar.metrics();
    const ms = (name: string) => Math.max(0, 1000 * metricSum(text, name) - LAG_RESOLUTION_MS);
    into.p99 = Math.max(into.p99, ms('infercache_nodejs_eventloop_lag_p99_seconds'));
    into.max = Math.max(into.max, ms('infercache_nodejs_eventloop_lag_max_seconds'));
  };
  const background = { calls: 0, seconds: 0, errors: 0, madeOnTheSpot: 0 };
  const memory = {
    rssMiB: 0,
    heapUsedMiB: 0,
    l1PredictionMiB: 0,
    l1PredictionEntries: 0,
    l1PredictionBoundMiB: 0,
    l1PredictionArenaMiB: 0,
    l1PredictionEvictions: 0,
    gcMajorS: 0,
    gcMinorS: 0,
  };
  try {
    await probeClient.predict(probe);
    // Warm-up, before any probe: made here, not counted as made on the spot.
    await sender.send(PREDICT, makeBatch());
    const measure = (warmupMs: number, warmupCalls?: number) =>
      closedLoop({
        concurrency: 1,
        durationMs: PHASE_MS,
        warmupMs,
        warmupCalls,
        serverPid: sidecar.proc.pid,
        call: () => probeClient.predict(probe),
      });
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`  round ${round}/${ROUNDS}: probe alone, ${PHASE_MS} ms`);
      // Round 1 first warms the JIT: latency falls for the first few thousand calls.
      await sidecar.metrics(); // Resets the lag histogram.
      runs.alone.push(await measure(round === 1 ? 5000 : 0, 5000));
      await readLag(lag.alone);

      progress(`  round ${round}/${ROUNDS}: probe with ${BACKGROUND_ROWS}-row miss batches back to back`);
      stock = Array.from({ length: BATCH_STOCK }, makeBatch);
      let stopped = false;
      const stream: Promise<LoadRun> = closedLoop({
        concurrency: 1,
        durationMs: 60_000,
        until: () => stopped,
        call: sendBatch,
      });
      let loaded: LoadRun;
      await sidecar.metrics();
      try {
        loaded = await measure(SETTLE_MS); // The warm-up lets the stream reach steady state.
      } finally {
        stopped = true;
      }
      await readLag(lag.loaded);
      const bg = await stream;
      runs.loaded.push(loaded);
      background.calls += bg.requests;
      background.seconds += bg.seconds;
      background.errors += bg.errors;
    }
    background.madeOnTheSpot = madeOnTheSpot;
    // Read at the end, after the stream has pressed L1 against its bound.
    const text = await sidecar.metrics();
    const mib = (name: string, labels?: Record<string, string>) => metricSum(text, name, labels) / 2 ** 20;
    memory.rssMiB = mib('infercache_process_resident_memory_bytes');
    memory.heapUsedMiB = mib('infercache_nodejs_heap_size_used_bytes');
    memory.l1PredictionMiB = mib('infercache_l1_size_bytes', { kind: 'p' });
    memory.l1PredictionEntries = metricSum(text, 'infercache_l1_entries', { kind: 'p' });
    memory.l1PredictionBoundMiB = mib('infercache_l1_max_bytes', { kind: 'p' });
    memory.l1PredictionArenaMiB = mib('infercache_l1_arena_bytes', { kind: 'p' });
    memory.l1PredictionEvictions = metricSum(text, 'infercache_l1_evictions_total', { kind: 'p' });
    memory.gcMajorS = metricSum(text, 'infercache_nodejs_gc_duration_seconds_sum', { kind: 'major' });
    memory.gcMinorS = metricSum(text, 'infercache_nodejs_gc_duration_seconds_sum', { kind: 'minor' });
  } finally {
    probeClient.close();
    await sender.close();
    await stopBenchSidecar(sidecar);
  }
  const alone = summarize(runs.alone.flatMap((r) => r.latenciesMs));
  const loaded = summarize(runs.loaded.flatMap((r) => r.latenciesMs));
  const p99 = ratio(loaded.p99Ms, alone.p99Ms);
  const counted = ratio(memory.l1PredictionMiB, memory.l1PredictionBoundMiB);
  const slabs = ratio(memory.l1PredictionArenaMiB, memory.l1PredictionBoundMiB);
  const within = (v: number) => ({ value: v, target: `<= ${BOUND_SLACK}`, met: v <= BOUND_SLACK });
  const row = (s: typeof alone, rs: LoadRun[], l: { p99: number; max: number }) => ({
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    meanMs: s.meanMs,
    maxMs: s.maxMs,
    samples: s.samples,
    loopDelayP99Ms: l.p99,
    loopDelayMaxMs: l.max,
    ...cpuColumns(rs),
  });
  return {
    name: 'loop_latency',
    title: 'L1-hit latency alone vs under a stream of heavy-model misses',
    settings: {
      rounds: ROUNDS,
      phaseMs: PHASE_MS,
      probeConcurrency: 1,
      backgroundRows: BACKGROUND_ROWS,
      l1Arena: arena ?? 'default',
      l1MaxBytes: L1_MAX_BYTES,
    },
    ratios: {
      'p99 loaded/alone': { value: p99, target: '<= 1.5', met: p99 <= 1.5 },
      'p50 loaded/alone': { value: ratio(loaded.p50Ms, alone.p50Ms) },
      'L1 prediction bytes counted/bound, after the run': within(counted),
      // Only with predictions in the arena: otherwise there are no slabs, and the line would say nothing.
      ...(memory.l1PredictionArenaMiB > 0
        ? { 'L1 prediction arena slabs/bound, after the run': within(slabs) }
        : {}),
      'sidecar RSS after the run (MiB)': { value: memory.rssMiB },
    },
    phases: {
      alone: row(alone, runs.alone, lag.alone),
      'with background misses': row(loaded, runs.loaded, lag.loaded),
    },
    notes: [
      `background: ${background.calls} batches of ${BACKGROUND_ROWS} rows ` +
        `(${((background.calls * BACKGROUND_ROWS) / background.seconds).toFixed(0)} rows/s), ${background.errors} errors; ` +
        `sent pre-encoded from a thread of the bench process, answers not decoded; ${background.madeOnTheSpot} batches made while the probe ran (past the stock of ${BATCH_STOCK})`,
      "loopDelay*: the sidecar's event-loop delay (worst round) from its /metrics, less the 10 ms sampling interval.",
      `memory at the end: RSS ${memory.rssMiB.toFixed(0)} MiB, JS heap used ${memory.heapUsedMiB.toFixed(0)} MiB, ` +
        `L1 predictions ${memory.l1PredictionEntries} entries, ${memory.l1PredictionMiB.toFixed(2)} MiB counted ` +
        `of a ${memory.l1PredictionBoundMiB.toFixed(2)} MiB bound (${memory.l1PredictionEvictions} evicted), ` +
        `${memory.l1PredictionArenaMiB.toFixed(2)} MiB of arena slabs; ` +
        `GC time over the run: major ${memory.gcMajorS.toFixed(3)} s, minor ${memory.gcMinorS.toFixed(3)} s`,
      'The L1 lines read infercache_l1_size_bytes, infercache_l1_arena_bytes and infercache_l1_max_bytes (kind p), ' +
        "the RSS infercache_process_resident_memory_bytes, from the sidecar's /metrics after the last round. " +
        `L1 is bounded to ${L1_MAX_BYTES / 2 ** 20} MiB (predictions get half), so the stream fills it past its bound; ` +
        'with no evictions the bound line says nothing.',
    ],
    details: { background, memory },
  };
}
