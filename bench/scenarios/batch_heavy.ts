import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createClient } from '../../test/helpers/client.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { closedLoop, cpuColumns, type LoadRun } from '../lib/load.js';
import { progress } from '../lib/log.js';
import { INFERENCE_THREADS, startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult } from '../lib/report.js';
import { HEAVY_COLS, heavyRequest, mulberry32, randomFloats } from '../lib/rows.js';
import { ratio, summarize } from '../lib/stats.js';

const ROWS = 1024;
const PHASE_MS = 5000;
const SEED = 0xba7c4;
const MODEL = fileURLToPath(new URL('../../models/heavy/1/model.onnx', import.meta.url));

/**
 * One call at a time in every phase, so rows/s compares the sidecar's path
 * with the runtime's alone; the miss, bypass and raw phases see the same
 * sequence of fresh rows (same seed), and the cached phase one fixed batch.
 */
export async function batchHeavy(redis: RedisServer): Promise<ScenarioResult> {
  const sidecar = await startBenchSidecar('batch_heavy', redis.url);
  const client = createClient(sidecar.grpcAddr);
  const fresh = () => {
    const rand = mulberry32(SEED);
    return () => randomFloats(rand, ROWS * HEAVY_COLS);
  };
  const phases: Record<string, LoadRun> = {};
  const measure = async (name: string, call: () => Promise<unknown>, pid?: number, warmupMs = 0) => {
    progress(`  ${name}: ${ROWS}-row batches, one at a time, ${PHASE_MS} ms`);
    phases[name] = await closedLoop({ concurrency: 1, durationMs: PHASE_MS, warmupMs, serverPid: pid, call });
  };
  let session: ort.InferenceSession | undefined;
  try {
    const cachedBatch = heavyRequest(randomFloats(mulberry32(SEED + 1), ROWS * HEAVY_COLS), ROWS);
    await client.predict(cachedBatch); // Computes and stores all 1024 rows.
    const pid = sidecar.proc.pid;
    // Only the cached phase is short-call enough for JIT warm-up to show.
    await measure('cached', () => client.predict(cachedBatch), pid, 1000);

    // Each call generates its batch (~2 ms, under 1% of a miss); raw pays the same.
    const missRows = fresh();
    await measure('miss', () => client.predict(heavyRequest(missRows(), ROWS)), pid);
    const bypassRows = fresh();
    await measure('bypass', () => client.predict(heavyRequest(bypassRows(), ROWS, true)), pid);

    // The sidecar's worker session options (src/model/session_worker.ts).
    session = await ort.InferenceSession.create(MODEL, {
      intraOpNumThreads: INFERENCE_THREADS,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const s = session;
    const input = s.inputNames[0] as string;
    const rawRows = fresh();
    const runRaw = () => {
      const raw = rawRows();
      const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      return s.run({ [input]: new ort.Tensor('float32', data, [ROWS, HEAVY_COLS]) });
    };
    await runRaw(); // Warm-up: first run allocates the arena.
    await measure('raw onnxruntime', runRaw);
  } finally {
    await session?.release();
    client.close();
    await stopBenchSidecar(sidecar);
  }

  const rowsPerSec = (name: string) => ROWS * (phases[name]?.rps ?? Number.NaN);
  const raw = rowsPerSec('raw onnxruntime');
  const table: ScenarioResult['phases'] = {};
  for (const [name, run] of Object.entries(phases)) {
    const lat = summarize(run.latenciesMs);
    table[name] = {
      rowsPerSec: rowsPerSec(name),
      callsPerSec: run.rps,
      p50Ms: lat.p50Ms,
      p99Ms: lat.p99Ms,
      calls: run.requests,
      errors: run.errors,
      ...cpuColumns([run]),
    };
  }
  return {
    name: 'batch_heavy',
    title: '1024-row Predict on the heavy model: cached, missing, bypass, raw onnxruntime',
    settings: { rows: ROWS, phaseMs: PHASE_MS, intraOpThreads: INFERENCE_THREADS, concurrency: 1 },
    ratios: {
      'cached/raw': { value: ratio(rowsPerSec('cached'), raw) },
      'miss/raw': { value: ratio(rowsPerSec('miss'), raw) },
      'bypass/raw': { value: ratio(rowsPerSec('bypass'), raw) },
    },
    phases: table,
    notes: [
      'raw onnxruntime runs in the bench process with the sidecar idle; serverCpuPct is the sidecar process.',
    ],
  };
}
