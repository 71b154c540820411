import type { ServiceDefinition } from '@grpc/proto-loader';
import { loadPackageDefinition } from '../../src/api/proto.js';
import { createClient, type PredictResponse } from '../../test/helpers/client.js';
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

export async function l1VsBare(redis: RedisServer): Promise<ScenarioResult> {
  const sidecar = await startBenchSidecar('l1_vs_bare', redis.url);
  const sidecarClient = createClient(sidecar.grpcAddr);
  const request = irisRequest();
  await sidecarClient.predict(request); // The miss that puts the row in L1.
  const template = await sidecarClient.predict(request);
  if (template.row_sources[0] !== L1_SOURCE)
    throw new Error(`expected an L1 hit, got ${template.row_sources}`);
  const bare = await startBareServer(template);
  const bareClient = createClient(bare.addr);
  try {
    // Same serializer as the wire: both answers must be the same number of bytes.
    const service = loadPackageDefinition()['infercache.v1.InferCache'] as ServiceDefinition;
    const size = (r: PredictResponse) => service.Predict?.responseSerialize(r).length ?? Number.NaN;
    const [sidecarBytes, bareBytes] = [size(template), size(await bareClient.predict(request))];
    if (sidecarBytes !== bareBytes)
      throw new Error(`response sizes differ: ${sidecarBytes} vs ${bareBytes} bytes`);

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
          call: () => client.predict(request),
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
    return {
      name: 'l1_vs_bare',
      title: 'single-row L1-hit Predict (iris) vs a bare grpc-js server',
      settings: { concurrency: CONCURRENCY, rounds: ROUNDS, phaseMs: PHASE_MS, responseBytes: sidecarBytes },
      ratios: {
        'throughput sidecar/bare': { value: throughput, target: '>= 0.85', met: throughput >= 0.85 },
        'p50 latency sidecar/bare': { value: ratio(s.p50Ms, b.p50Ms) },
        'p99 latency sidecar/bare': { value: ratio(s.p99Ms, b.p99Ms) },
        'server CPU per call sidecar/bare': { value: ratio(s.serverCpuMsPerKCall, b.serverCpuMsPerKCall) },
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
