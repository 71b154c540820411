import type { RedisServer } from '../../test/helpers/redis_server.js';
import type { ScenarioResult } from '../lib/report.js';
import { batchHeavy } from './batch_heavy.js';
import { bulkLoad } from './bulk_load.js';
import { getFeatures } from './get_features.js';
import { invalidationLag } from './invalidation_lag.js';
import { keyHash } from './key_hash.js';
import { l1BatchIrisVsBare, l1BatchVsBare } from './l1_batch_vs_bare.js';
import { l1Policy } from './l1_policy.js';
import { l1UnderWrites } from './l1_under_writes.js';
import { l1VsBare } from './l1_vs_bare.js';
import { l2Batch } from './l2_batch.js';
import { l2BatchCluster } from './l2_batch_cluster.js';
import { loopLatency } from './loop_latency.js';
import { microBatching } from './micro_batching.js';
import { requestCost } from './request_cost.js';
import { warmStart } from './warm_start.js';
import { zipf } from './zipf.js';

/** Every scenario, in the order `npm run bench` runs them. */
export const SCENARIOS: Record<string, (redis: RedisServer) => Promise<ScenarioResult>> = {
  l1_vs_bare: l1VsBare,
  l1_batch_vs_bare: l1BatchVsBare,
  l1_batch_iris_vs_bare: l1BatchIrisVsBare,
  batch_heavy: batchHeavy,
  micro_batching: microBatching,
  zipf,
  loop_latency: loopLatency,
  key_hash: keyHash,
  l1_policy: l1Policy,
  l2_batch: l2Batch,
  l2_batch_cluster: l2BatchCluster,
  request_cost: requestCost,
  get_features: getFeatures,
  l1_under_writes: l1UnderWrites,
  bulk_load: bulkLoad,
  warm_start: warmStart,
  invalidation_lag: invalidationLag,
};
