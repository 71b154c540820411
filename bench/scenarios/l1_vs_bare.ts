import type { RedisServer } from '../../test/helpers/redis_server.js';
import { envInt } from '../lib/env.js';
import { hitVsBare } from '../lib/hit_vs_bare.js';
import type { ScenarioResult } from '../lib/report.js';
import { irisRequest } from '../lib/rows.js';

// 32 in flight. Tried 16, 32 and 64 on a 2-core VM: throughput was the same
// within noise (both processes already busy at 16) and p50 grew in step with
// the count (Little's law: only queueing). 32 leaves slack for a GC pause on
// either side; 64 only doubled p99. BENCH_L1_CONCURRENCY overrides it.
const CONCURRENCY = envInt('BENCH_L1_CONCURRENCY', 32, 1);

/** A single-row L1 hit against the bare server answering the same bytes. */
export async function l1VsBare(redis: RedisServer): Promise<ScenarioResult> {
  return hitVsBare(redis, {
    name: 'l1_vs_bare',
    title: 'single-row L1-hit Predict (iris) vs a bare grpc-js server',
    request: irisRequest(),
    concurrency: CONCURRENCY,
    rounds: 3,
    phaseMs: 3000,
    // Throughput climbs ~4x over the first few thousand calls (JIT in both gRPC
    // stacks); on a loaded 2-core box that took ~6 s. Each target gets its own.
    warmupCalls: 15_000,
    warmupMaxMs: 10_000,
    throughputTarget: 0.9,
    cpuTarget: 1.2,
  });
}
