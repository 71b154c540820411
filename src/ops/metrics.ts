import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * All metrics of one sidecar, in one registry. Names are part of the
 * versioned contract: every one starts with `infercache_` and follows the
 * Prometheus naming rules `promtool check metrics` enforces.
 */
export function createMetrics() {
  // Read at scrape time; the owners of the numbers fill these in.
  const gaugeSources = { l1Entries: () => 0, l1Bytes: () => 0 };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'infercache_' });
  // prom-client names these gauges *_total, which promtool rejects (only
  // counters may end in _total); the handle and resource counts remain as
  // infercache_nodejs_active_{handles,resources}.
  for (const name of ['handles', 'requests', 'resources']) {
    registry.removeSingleMetric(`infercache_nodejs_active_${name}_total`);
  }
  const latencyBuckets = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ];
  return {
    registry,
    gaugeSources,
    requests: new Counter({
      name: 'infercache_requests_total',
      help: 'gRPC calls by method and status code',
      labelNames: ['method', 'code'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'infercache_request_duration_seconds',
      help: 'gRPC call latency by method and status code',
      labelNames: ['method', 'code'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'infercache_cache_lookups_total',
      help: 'Cache lookups (one per row) by kind, tier and result',
      labelNames: ['kind', 'tier', 'result'] as const,
      registers: [registry],
    }),
    rowsServed: new Counter({
      name: 'infercache_rows_total',
      help: 'Rows answered, by model and where they came from (l1, l2, model)',
      labelNames: ['model', 'source'] as const,
      registers: [registry],
    }),
    l1Entries: new Gauge({
      name: 'infercache_l1_entries',
      help: 'Entries in L1',
      registers: [registry],
      collect() {
        this.set(gaugeSources.l1Entries());
      },
    }),
    l1Bytes: new Gauge({
      name: 'infercache_l1_size_bytes',
      help: 'Bytes held by L1',
      registers: [registry],
      collect() {
        this.set(gaugeSources.l1Bytes());
      },
    }),
    l1Evictions: new Counter({
      name: 'infercache_l1_evictions_total',
      help: 'L1 entries evicted to stay under the byte bound',
      registers: [registry],
    }),
    l2Errors: new Counter({
      name: 'infercache_l2_errors_total',
      help: 'Failed or skipped Redis operations by operation and reason (timeout, unavailable, circuit_open, error)',
      labelNames: ['op', 'reason'] as const,
      registers: [registry],
    }),
    l2Duration: new Histogram({
      name: 'infercache_l2_operation_duration_seconds',
      help: 'Redis round-trip latency by operation',
      labelNames: ['op'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    l2Connected: new Gauge({
      name: 'infercache_l2_connected',
      help: '1 while the Redis L2 is connected, else 0',
      registers: [registry],
    }),
    l2CircuitOpen: new Gauge({
      name: 'infercache_l2_circuit_open',
      help: '1 while the L2 circuit breaker is open (Redis skipped), else 0',
      registers: [registry],
    }),
    l2DroppedWrites: new Counter({
      name: 'infercache_l2_dropped_writes_total',
      help: 'Rows not written to L2 because the write queue was full or Redis was down',
      registers: [registry],
    }),
    decodeErrors: new Counter({
      name: 'infercache_cache_decode_errors_total',
      help: 'Cached values that failed to decode (served as misses)',
      registers: [registry],
    }),
    inferenceDuration: new Histogram({
      name: 'infercache_inference_duration_seconds',
      help: 'Model run latency (queue wait included) by model',
      labelNames: ['model'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    inferenceBatchRows: new Histogram({
      name: 'infercache_inference_batch_rows',
      help: 'Rows per model run by model',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
      registers: [registry],
    }),
    inferenceErrors: new Counter({
      name: 'infercache_inference_errors_total',
      help: 'Model runs that failed or were refused, by model and reason',
      labelNames: ['model', 'reason'] as const,
      registers: [registry],
    }),
    modelsLoaded: new Gauge({
      name: 'infercache_model_versions',
      help: 'Model versions by state (ready, failed)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
