import type { ServiceDefinition } from '@grpc/proto-loader';
import { loadPackageDefinition } from '../../src/api/proto.js';
import type { PredictResponse } from '../../test/helpers/client.js';
import { rawClient } from '../../test/helpers/raw_call.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { closedLoop, cpuColumns, type LoadRun } from '../lib/load.js';
import { progress } from '../lib/log.js';
import { startBareServer, startBenchSidecar, stopBenchSidecar } from '../lib/procs.js';
import type { ScenarioResult } from '../lib/report.js';
import { irisRequest } from '../lib/rows.js';
import { ratio, summarize } from '../lib/stats.js';

// 32 in flight. Tried 16, 32 and 64 on a 2-core VM: throughput was the same
// within noise (both processes already busy at 16) and p50 grew in step with
// the count (Little's law: only queueing). 32 leaves slack for a GC pause on
// either side; 64 only doubled p99. BENCH_L1_CONCURRENCY overrides it.
const CONCURRENCY = envInt('BENCH_L1_CONCURRENCY', 32, 1);
const ROUNDS = 3;
const PHASE_MS = 3000;
// Throughput climbs ~4x over the first few thousand calls (JIT in both gRPC
// stacks); on a loaded 2-core box that took ~6 s. Each target gets its own.
const WARMUP_CALLS = 15_000;
const WARMUP_MAX_MS = 10_000;
const L1_SOURCE = 1; // infercache.v1.RowSource.ROW_SOURCE_L1
const PREDICT = '/infercache.v1.InferCache/Predict';

export async function l1VsBare(redis: RedisServer): Promise<ScenarioResult> {
  const sidecar = await startBenchSidecar('l1_vs_bare', redis.url);
  const service = loadPackageDefinition()['infercache.v1.InferCache'] as ServiceDefinition;
  const requestBytes = service.Predict?.requestSerialize(irisRequest()) as Buffer;
  // Both sides are called the same way: request bytes as they are, answers
  // not decoded, so the client costs the same whoever answers.
  const sidecarClient = rawClient(sidecar.grpcAddr);
  await sidecarClient.call(PREDICT, requestBytes); // The miss that puts the row in L1.
  const template = await sidecarClient.call(PREDICT, requestBytes);
  const decoded =
    template.response && (service.Predict?.responseDeserialize(template.response) as PredictResponse);
  if (template.code !== 0 || decoded?.row_sources[0] !== L1_SOURCE)
    throw new Error(`expected an L1 hit, got ${template.code} ${template.details} ${decoded?.row_sources}`);
  const sidecarBytes = (template.response as Buffer).length;
  const bare = await startBareServer(template.response as Buffer);
  const bareClient = rawClient(bare.addr);
  try {
    const bareAnswer = await bareClient.call(PREDICT, requestBytes);
    if (!bareAnswer.response?.equals(template.response as Buffer))
      throw new Error('the bare server does not answer the same bytes');

    const targets = {
      sidecar: { client: sidecarClient, pid: sidecar.proc.pid },
      bare: { client: bareClient, pid: bare.pid },
    };
    const runs: Record<keyof typeof targets, LoadRun[]> = { sidecar: [], bare: [] };
    const rounds: { round: number; sidecarRps: number; bareRps: number; ratio: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate who goes first, so a drift in machine load hits both alike.
      const order = round % 2 === 1 ? (['sidecar', 'bare'] as const) : (['bare', 'sidecar'] as const);
      const rps: Record<string, number> = {};
      for (const name of order) {
        const warm = round === 1 ? ` after up to ${WARMUP_CALLS} warm-up calls` : '';
        progress(`  round ${round}/${ROUNDS}: ${name}, ${CONCURRENCY} in flight, ${PHASE_MS} ms${warm}`);
        const { client, pid } = targets[name];
        const run: LoadRun = await closedLoop({
          concurrency: CONCURRENCY,
          durationMs: PHASE_MS,
          warmupMs: round === 1 ? WARMUP_MAX_MS : 0,
          warmupCalls: WARMUP_CALLS,
          serverPid: pid,
          call: async () => {
            const outcome = await client.call(PREDICT, requestBytes);
            if (outcome.code !== 0) throw new Error(`${outcome.code} ${outcome.details}`);
          },
        });
        runs[name].push(run);
        rps[name] = run.rps;
      }
      const r = ratio(rps.sidecar as number, rps.bare as number);
      rounds.push({ round, sidecarRps: rps.sidecar as number, bareRps: rps.bare as number, ratio: r });
    }

    // Pooled over the rounds: all calls over all seconds, all latencies in one distribution.
    const phase = (rs: LoadRun[]) => {
      const sum = (pick: (r: LoadRun) => number) => rs.reduce((a, r) => a + pick(r), 0);
      const lat = summarize(rs.flatMap((r) => r.latenciesMs));
      return {
        rps: sum((r) => r.requests) / sum((r) => r.seconds),
        p50Ms: lat.p50Ms,
        p99Ms: lat.p99Ms,
        serverCpuMsPerKCall:
          (10 * sum((r) => (r.serverCpuPct ?? Number.NaN) * r.seconds)) / sum((r) => r.requests),
        ...cpuColumns(rs),
        requests: sum((r) => r.requests),
        errors: sum((r) => r.errors),
      };
    };
    const [s, b] = [phase(runs.sidecar), phase(runs.bare)];
    const throughput = ratio(s.rps, b.rps);
    const cpu = ratio(s.serverCpuMsPerKCall, b.serverCpuMsPerKCall);
    return {
      name: 'l1_vs_bare',
      title: 'single-row L1-hit Predict (iris) vs a bare grpc-js server',
      settings: { concurrency: CONCURRENCY, rounds: ROUNDS, phaseMs: PHASE_MS, responseBytes: sidecarBytes },
      ratios: {
        'throughput sidecar/bare': { value: throughput, target: '>= 0.9', met: throughput >= 0.9 },
        'p50 latency sidecar/bare': { value: ratio(s.p50Ms, b.p50Ms) },
        'p99 latency sidecar/bare': { value: ratio(s.p99Ms, b.p99Ms) },
        'server CPU per call sidecar/bare': { value: cpu, target: '<= 1.2', met: cpu <= 1.2 },
      },
      phases: { sidecar: s, bare: b },
      notes: [
        `per-round throughput ratios: ${rounds.map((r) => r.ratio.toFixed(3)).join(', ')}`,
        'CPU % is of one core; the client (this process) shares the 2 cores with the server under test.',
      ],
      details: { rounds },
    };
  } finally {
    bareClient.close();
    sidecarClient.close();
    await bare.stop();
    await stopBenchSidecar(sidecar);
  }
}
