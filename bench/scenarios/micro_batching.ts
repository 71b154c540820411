import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config/schema.js';
import { createClient, type InferCacheClient } from '../../test/helpers/client.js';
import { metricValue } from '../../test/helpers/metrics.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { closedLoop, cpuColumns, type LoadRun } from '../lib/load.js';
import { progress } from '../lib/log.js';
import {
  INFERENCE_THREADS,
  startBareModelServer,
  startBenchSidecar,
  stopBenchSidecar,
} from '../lib/procs.js';
import type { ScenarioResult } from '../lib/report.js';
import { heavyRequest, heavyRow } from '../lib/rows.js';
import { median, ratio, summarize } from '../lib/stats.js';

const CLIENTS = envInt('BENCH_BATCH_CLIENTS', 64, 1);
const ROUNDS = envInt('BENCH_BATCH_ROUNDS', 3, 1);
const PHASE_MS = 4000;
const WARMUP_MS = 2000;
const MODEL_SOURCE = 3; // infercache.v1.RowSource.ROW_SOURCE_MODEL
const MODEL = fileURLToPath(new URL('../../models/heavy/1/model.onnx', import.meta.url));

interface Target {
  readonly name: string;
  readonly client: InferCacheClient;
  readonly pid: number | undefined;
  /** The sidecar's /metrics, for its rows per run; undefined for the bare server. */
  readonly metrics?: () => Promise<string>;
  readonly stop: () => Promise<void>;
}

/** Sidecar settings compared, by contender name: the defaults, no batching, and (BENCH_BATCH_SWEEP=1) other bounds. */
function configs(): Record<string, Record<string, string>> {
  const base: Record<string, Record<string, string>> = {
    batched: {},
    'one run per call': { INFERCACHE_BATCH_MAX_ROWS: '1' },
  };
  if (process.env.BENCH_BATCH_SWEEP !== '1') return base;
  for (const rows of [16, 64, 256]) {
    for (const us of [0, 1000]) {
      if (rows === SETTINGS.batchMaxRows.default && us === SETTINGS.batchMaxDelayUs.default) continue;
      base[`rows ${rows}, delay ${us} us`] = {
        INFERCACHE_BATCH_MAX_ROWS: String(rows),
        INFERCACHE_BATCH_MAX_DELAY_US: String(us),
      };
    }
  }
  return base;
}

/**
 * 64 clients, each sending single fresh rows (always a miss: L1, then L2, then
 * the model) one call after the other, to the heavy model: the sidecar with
 * its default batching, the sidecar running each call alone, and a bare
 * grpc-js server that runs onnxruntime on the rows, batching what arrives
 * during a run (bench/bare_model_server.ts). Contenders take turns in every
 * round, in a rotating order; ratios are per round, then the median.
 */
export async function microBatching(redis: RedisServer): Promise<ScenarioResult> {
  const targets: Target[] = [];
  const rates: Record<string, number[]> = {};
  const runs: Record<string, LoadRun[]> = {};
  const rowsPerRun: Record<string, number[]> = {};
  let fresh = 0;
  try {
    // Started first: in sweeps, the sidecar started first in this process was
    // the slowest in every round whatever its settings (cause not found), so
    // none of the compared sidecars takes that place.
    const bare = await startBareModelServer({
      BENCH_BARE_MODEL: MODEL,
      BENCH_BARE_THREADS: String(INFERENCE_THREADS),
      BENCH_BARE_MAX_ROWS: String(SETTINGS.batchMaxRows.default),
    });
    targets.push({
      name: 'bare grpc-js + onnxruntime',
      client: createClient(bare.addr),
      pid: bare.pid,
      stop: bare.stop,
    });

    for (const [name, env] of Object.entries(configs())) {
      const sidecar = await startBenchSidecar(`micro_batching: ${name}`, redis.url, env);
      targets.push({
        name,
        client: createClient(sidecar.grpcAddr),
        pid: sidecar.proc.pid,
        metrics: () => sidecar.metrics(),
        stop: () => stopBenchSidecar(sidecar),
      });
    }
    // What the L2 round trips cost the miss path: the same sidecar without Redis.
    const l1Only = await startBenchSidecar('micro_batching: batched, no L2', '');
    targets.push({
      name: 'batched, no L2',
      client: createClient(l1Only.grpcAddr),
      pid: l1Only.proc.pid,
      metrics: () => l1Only.metrics(),
      stop: () => stopBenchSidecar(l1Only),
    });
    let notMissed = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length] as Target);
      for (const t of order) {
        // Every call a row never sent before: the sidecars answer it from the model.
        const call = async () => {
          const res = await t.client.predict(heavyRequest(heavyRow(0xba7c, fresh++), 1));
          if (res.row_sources[0] !== MODEL_SOURCE) notMissed++;
        };
        const before = await runCounters(t);
        progress(`  round ${round}/${ROUNDS}: ${t.name}, ${CLIENTS} clients, ${PHASE_MS} ms`);
        const run = await closedLoop({
          concurrency: CLIENTS,
          durationMs: PHASE_MS,
          warmupMs: round === 1 ? WARMUP_MS : 0,
          serverPid: t.pid,
          call,
        });
        const after = await runCounters(t);
        if (before !== undefined && after !== undefined) {
          const list = rowsPerRun[t.name] ?? [];
          list.push((after.rows - before.rows) / (after.runs - before.runs));
          rowsPerRun[t.name] = list;
        }
        runs[t.name] = [...(runs[t.name] ?? []), run];
        rates[t.name] = [...(rates[t.name] ?? []), run.rps];
      }
    }
    if (notMissed > 0) throw new Error(`${notMissed} calls were not answered by the model`);
  } finally {
    for (const t of targets) {
      t.client.close();
      await t.stop();
    }
  }

  const perRound = (a: string, b: string) =>
    (rates[a] ?? []).map((x, i) => ratio(x, (rates[b] ?? [])[i] ?? Number.NaN));
  const batchedVsAlone = perRound('batched', 'one run per call');
  const batchedVsBare = perRound('batched', 'bare grpc-js + onnxruntime');
  const phases: ScenarioResult['phases'] = {};
  for (const [name, list] of Object.entries(runs)) {
    const lat = summarize(list.flatMap((r) => r.latenciesMs));
    phases[name] = {
      callsPerSec: median(list.map((r) => r.rps)),
      p50Ms: lat.p50Ms,
      p99Ms: lat.p99Ms,
      ...(rowsPerRun[name] ? { rowsPerRun: median(rowsPerRun[name]) } : {}),
      calls: lat.samples,
      errors: list.reduce((n, r) => n + r.errors, 0),
      ...cpuColumns(list),
    };
  }
  const met = (v: number, min: number) => ({ value: v, target: `>= ${min}`, met: v >= min });
  return {
    name: 'micro_batching',
    title: `${CLIENTS} clients sending distinct single rows to the heavy model: batched, one run per call, bare server`,
    settings: {
      clients: CLIENTS,
      rounds: ROUNDS,
      phaseMs: PHASE_MS,
      intraOpThreads: INFERENCE_THREADS,
      batchMaxRows: SETTINGS.batchMaxRows.default,
      batchMaxDelayUs: SETTINGS.batchMaxDelayUs.default,
    },
    ratios: {
      'batched/one run per call (calls/s)': met(median(batchedVsAlone), 3),
      'batched/bare (calls/s)': met(median(batchedVsBare), 0.9),
      'batched, no L2/bare (calls/s)': {
        value: median(perRound('batched, no L2', 'bare grpc-js + onnxruntime')),
      },
    },
    phases,
    notes: [
      'Every call is a fresh row (a miss in L1 and L2, then the model); the sidecars use the bench Redis.',
      'The bare server decodes with protobufjs, runs onnxruntime in its main thread and batches the calls that arrive during a run, up to the same row bound.',
      'rowsPerRun: rows per model run over the phase, from the sidecar metrics.',
    ],
    details: { perRound: { batchedVsAlone, batchedVsBare }, callsPerSec: rates, rowsPerRun },
  };
}

async function runCounters(t: Target): Promise<{ runs: number; rows: number } | undefined> {
  if (t.metrics === undefined) return undefined;
  const body = await t.metrics();
  return {
    runs: metricValue(body, 'infercache_inference_batch_rows_count', { model: 'heavy' }) ?? 0,
    rows: metricValue(body, 'infercache_inference_batch_rows_sum', { model: 'heavy' }) ?? 0,
  };
}
