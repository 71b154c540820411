import type { ServiceDefinition } from '@grpc/proto-loader';
import { loadPackageDefinition } from '../../src/api/proto.js';
import type { PredictRequest, PredictResponse } from '../../test/helpers/client.js';
import { rawClient } from '../../test/helpers/raw_call.js';
import type { RedisServer } from '../../test/helpers/redis_server.js';
import { closedLoop, cpuColumns, type LoadRun } from './load.js';
import { progress } from './log.js';
import { startBareServer, startBenchSidecar, stopBenchSidecar } from './procs.js';
import type { ScenarioResult } from './report.js';
import { ratio, summarize } from './stats.js';

const L1_SOURCE = 1; // infercache.v1.RowSource.ROW_SOURCE_L1
const PREDICT = '/infercache.v1.InferCache/Predict';

export interface HitVsBare {
  readonly name: string;
  readonly title: string;
  /** A request whose every row L1 holds after one call. */
  readonly request: PredictRequest;
  readonly concurrency: number;
  readonly rounds: number;
  readonly phaseMs: number;
  /** Unrecorded calls (each target its own) before round 1, bounded by warmupMaxMs. */
  readonly warmupCalls: number;
  readonly warmupMaxMs: number;
  /** The least acceptable throughput sidecar/bare. */
  readonly throughputTarget: number;
  /** The most server CPU per call sidecar/bare, where a target is set. */
  readonly cpuTarget?: number;
  readonly notes?: readonly string[];
}

/**
 * An all-L1-hit Predict against the leanest grpc-js server answering the
 * same bytes: identity serializers, the sidecar's own answer pre-encoded. Both
 * are called the same way (request bytes as they are, answers not decoded),
 * so the client costs the same whoever answers. Rounds alternate who goes
 * first, so a drift in machine load hits both alike.
 */
export async function hitVsBare(redis: RedisServer, o: HitVsBare): Promise<ScenarioResult> {
  const sidecar = await startBenchSidecar(o.name, redis.url);
  const service = loadPackageDefinition()['infercache.v1.InferCache'] as ServiceDefinition;
  const requestBytes = service.Predict?.requestSerialize(o.request) as Buffer;
  const sidecarClient = rawClient(sidecar.grpcAddr);
  await sidecarClient.call(PREDICT, requestBytes); // The misses that put the rows in L1.
  const template = await sidecarClient.call(PREDICT, requestBytes);
  const decoded =
    template.response && (service.Predict?.responseDeserialize(template.response) as PredictResponse);
  if (template.code !== 0 || !decoded || decoded.row_sources.some((s) => s !== L1_SOURCE))
    throw new Error(`expected all L1 hits, got ${template.code} ${template.details} ${decoded?.row_sources}`);
  const responseBytes = (template.response as Buffer).length;
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
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? (['sidecar', 'bare'] as const) : (['bare', 'sidecar'] as const);
      const rps: Record<string, number> = {};
      for (const name of order) {
        const warm = round === 1 ? ` after up to ${o.warmupCalls} warm-up calls` : '';
        progress(`  round ${round}/${o.rounds}: ${name}, ${o.concurrency} in flight, ${o.phaseMs} ms${warm}`);
        const { client, pid } = targets[name];
        const run: LoadRun = await closedLoop({
          concurrency: o.concurrency,
          durationMs: o.phaseMs,
          warmupMs: round === 1 ? o.warmupMaxMs : 0,
          warmupCalls: o.warmupCalls,
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
        // CPU ms = cpuPct / 100 × seconds × 1000; per call, in µs.
        serverCpuUsPerCall:
          (10_000 * sum((r) => (r.serverCpuPct ?? Number.NaN) * r.seconds)) / sum((r) => r.requests),
        ...cpuColumns(rs),
        requests: sum((r) => r.requests),
        errors: sum((r) => r.errors),
      };
    };
    const [s, b] = [phase(runs.sidecar), phase(runs.bare)];
    const throughput = ratio(s.rps, b.rps);
    const cpu = ratio(s.serverCpuUsPerCall, b.serverCpuUsPerCall);
    const rows = decoded.row_sources.length;
    return {
      name: o.name,
      title: o.title,
      settings: {
        rows,
        concurrency: o.concurrency,
        rounds: o.rounds,
        phaseMs: o.phaseMs,
        requestBytes: requestBytes.length,
        responseBytes,
      },
      ratios: {
        'throughput sidecar/bare': {
          value: throughput,
          target: `>= ${o.throughputTarget}`,
          met: throughput >= o.throughputTarget,
        },
        'p50 latency sidecar/bare': { value: ratio(s.p50Ms, b.p50Ms) },
        'p99 latency sidecar/bare': { value: ratio(s.p99Ms, b.p99Ms) },
        'server CPU per call sidecar/bare':
          o.cpuTarget === undefined
            ? { value: cpu }
            : { value: cpu, target: `<= ${o.cpuTarget}`, met: cpu <= o.cpuTarget },
      },
      phases: { sidecar: s, bare: b },
      notes: [
        `per-round throughput ratios: ${rounds.map((r) => r.ratio.toFixed(3)).join(', ')}`,
        'CPU % is of one core; the client (this process) shares the 2 cores with the server under test.',
        ...(o.notes ?? []),
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
