import type { RedisServer } from '../../test/helpers/redis_server.js';
import { hitVsBare } from '../lib/hit_vs_bare.js';
import type { ScenarioResult } from '../lib/report.js';
import { HEAVY_COLS, heavyRequest, irisBatchRequest, mulberry32, randomFloats } from '../lib/rows.js';

const ROWS = 1024;
const TARGET = 0.75;
// Each call is ~100x the work of a single row: few in flight keep both
// processes busy without queueing.
const common = { concurrency: 8, rounds: 3, phaseMs: 3000, warmupCalls: 1500, warmupMaxMs: 10_000 };

/**
 * A 1,024-row Predict whose every row L1 holds, against the bare server
 * echoing the same answer bytes: the cost of 1,024 lookups and assembling
 * their answer, on top of what gRPC costs for messages that size. The heavy
 * model's rows (1 KiB each) are the batch the performance issue names.
 */
export async function l1BatchVsBare(redis: RedisServer): Promise<ScenarioResult> {
  return hitVsBare(redis, {
    name: 'l1_batch_vs_bare',
    title: `${ROWS}-row all-L1-hit Predict (heavy model, distinct rows) vs a bare grpc-js server`,
    request: heavyRequest(randomFloats(mulberry32(0x1024), ROWS * HEAVY_COLS), ROWS),
    ...common,
    throughputTarget: TARGET,
  });
}

/**
 * The same with the iris model's 16-byte rows: per-row work (hash, lookup,
 * copy) is all there is, with almost nothing for gRPC to move.
 */
export async function l1BatchIrisVsBare(redis: RedisServer): Promise<ScenarioResult> {
  return hitVsBare(redis, {
    name: 'l1_batch_iris_vs_bare',
    title: `${ROWS}-row all-L1-hit Predict (iris, distinct rows) vs a bare grpc-js server`,
    request: irisBatchRequest(ROWS, 0x1024),
    ...common,
    throughputTarget: TARGET,
  });
}
