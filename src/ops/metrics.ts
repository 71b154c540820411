import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { PlainCounter, PlainHistogram } from './plain_metrics.js';

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** What the L1 of one kind reports at scrape time. */
export interface L1Source {
  entries(): number;
  bytes(): number;
  maxBytes(): number;
  /** Bytes of the slabs its arena holds; 0 for a kind whose values are kept as objects. */
  arenaBytes(): number;
}

function redisMetrics(registry: Registry) {
  return {
    errors: new Counter({
      name: 'infercache_redis_errors_total',
      help: 'Redis commands that failed or were skipped, by operation and reason (timeout, unavailable, circuit_open, oom, readonly, moved, noscript, auth, error)',
      labelNames: ['op', 'reason'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'infercache_redis_operation_duration_seconds',
      help: 'Redis round-trip latency per node and batch, by operation',
      labelNames: ['op'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    nodeUp: new Gauge({
      name: 'infercache_redis_node_connected',
      help: '1 while the connection to a Redis node is ready, else 0',
      labelNames: ['node'] as const,
      registers: [registry],
    }),
    circuitOpen: new Gauge({
      name: 'infercache_redis_circuit_open',
      help: '1 while the circuit of a Redis node and direction (read, write) is open, else 0',
      labelNames: ['node', 'direction'] as const,
      registers: [registry],
    }),
  };
}

export type RedisMetrics = ReturnType<typeof redisMetrics>;

function cacheMetrics(registry: Registry, l1Sources: Map<string, L1Source>) {
  const perKind = (name: string, help: string, read: (s: L1Source) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        for (const [kind, source] of l1Sources) this.labels(kind).set(read(source));
      },
    });
  return {
    lookups: new PlainCounter({
      name: 'infercache_cache_lookups_total',
      help: 'Cache lookups by kind (p, f, e), tier and result: in L1 one per row, in L2 one per key a call fetches (a key named twice is fetched once)',
      labelNames: ['kind', 'tier', 'result'] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'infercache_cache_rejected_values_total',
      help: 'Values read from L2 and refused (served as misses, then overwritten), by kind and reason (format, checksum, schema, future)',
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    }),
    l1Entries: perKind('infercache_l1_entries', 'Entries in L1, by kind', (s) => s.entries()),
    l1Bytes: perKind('infercache_l1_size_bytes', 'Bytes held by L1, by kind', (s) => s.bytes()),
    l1MaxBytes: perKind('infercache_l1_max_bytes', 'L1 byte budget, by kind', (s) => s.maxBytes()),
    l1ArenaBytes: perKind(
      'infercache_l1_arena_bytes',
      'Bytes of the slabs the L1 arena holds, by kind (INFERCACHE_L1_ARENA; 0 for a kind kept as objects)',
      (s) => s.arenaBytes(),
    ),
    l1Evictions: new Counter({
      name: 'infercache_l1_evictions_total',
      help: 'L1 entries evicted to stay under the byte budget of their kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    l1KeptBack: new Counter({
      name: 'infercache_l1_kept_back_total',
      help: 'Values served but not kept in L1 because their key was written or invalidated while they were read from L2 (source l2) or computed (computed): they may be older than the change',
      labelNames: ['kind', 'source'] as const,
      registers: [registry],
    }),
    earlyRefreshes: new Counter({
      name: 'infercache_early_refreshes_total',
      help: 'Rows recomputed in the background before they expire (XFetch), by kind and result (ok, failed)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    l2DroppedWrites: new Counter({
      name: 'infercache_l2_dropped_writes_total',
      help: 'Values not written to L2, by kind and reason (queue_full: too many writes in flight; unencodable)',
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export type CacheMetrics = ReturnType<typeof cacheMetrics>;

function modelMetrics(registry: Registry) {
  return {
    inferenceDuration: new Histogram({
      name: 'infercache_inference_duration_seconds',
      help: 'Duration of model runs that ran (queue wait excluded), by model',
      labelNames: ['model'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'infercache_inference_queue_seconds',
      help: "Time each call's rows waited before their run started (for a worker, or for other calls' rows to join them), by model",
      labelNames: ['model'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    inferenceBatchRows: new Histogram({
      name: 'infercache_inference_batch_rows',
      help: 'Rows per model run by model',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'infercache_inference_queue_depth',
      help: 'Model runs (calls, or pieces of one) waiting for a worker or for a batch, all models',
      registers: [registry],
    }),
    batchCalls: new Histogram({
      name: 'infercache_inference_batch_calls',
      help: 'Calls (or pieces of one) whose rows ran together in one model run, by model',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    batchesRunApart: new Counter({
      name: 'infercache_inference_batches_run_apart_total',
      help: 'Joined runs that failed and were run again call by call, so each call gets its own answer or error, by model',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    inferenceErrors: new Counter({
      name: 'infercache_inference_errors_total',
      help: 'Model runs that failed, were refused or were dropped, by model and reason',
      labelNames: ['model', 'reason'] as const,
      registers: [registry],
    }),
    mismatch: new Gauge({
      name: 'infercache_model_version_mismatch',
      help: '1 while the fleet chose a version of the model that this sidecar cannot serve (it keeps its own)',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    modelsLoaded: new Gauge({
      name: 'infercache_model_versions',
      help: 'Model versions by state (ready, failed, unloaded)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    autoBypassed: new Gauge({
      name: 'infercache_auto_bypassed',
      help: '1 while a model version skips the cache because caching it did not pay (auto-bypass), until its recheck window starts; 0 while it is cached',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    autoBypassedRows: new PlainCounter({
      name: 'infercache_auto_bypassed_rows_total',
      help: 'Rows run without a cache lookup or store because their model version was auto-bypassed, by model',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    rowsServed: new PlainCounter({
      name: 'infercache_rows_total',
      help: 'Rows answered, by model and where they came from (l1, l2, model)',
      labelNames: ['model', 'source'] as const,
      registers: [registry],
    }),
  };
}

function featureMetrics(registry: Registry) {
  return {
    values: new PlainCounter({
      name: 'infercache_feature_values_total',
      help: 'Feature values served, by view, the tier their row came from (l1, l2, origin, none) and status (present, null_value, not_found, outside_max_age, stale)',
      labelNames: ['view', 'source', 'status'] as const,
      registers: [registry],
    }),
    rows: new PlainCounter({
      name: 'infercache_feature_rows_total',
      help: 'Entity rows served, by view and where they came from (l1, l2, origin, none)',
      labelNames: ['view', 'source'] as const,
      registers: [registry],
    }),
    batchEntities: new PlainHistogram({
      name: 'infercache_feature_batch_entities',
      help: 'Entity rows per GetFeatures or PutFeatures call, by view',
      labelNames: ['view'] as const,
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000, 50000],
      registers: [registry],
    }),
    age: new PlainHistogram({
      name: 'infercache_feature_age_seconds',
      help: 'Age of the rows served (now minus their event time), by view',
      labelNames: ['view'] as const,
      buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400],
      registers: [registry],
    }),
    originCalls: new Counter({
      name: 'infercache_feature_origin_calls_total',
      help: 'Calls to a view origin, by view and outcome (ok, timeout, http, malformed, unreachable, cancelled)',
      labelNames: ['view', 'outcome'] as const,
      registers: [registry],
    }),
    originDuration: new Histogram({
      name: 'infercache_feature_origin_duration_seconds',
      help: 'Latency of calls to a view origin, by view',
      labelNames: ['view'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    writes: new Counter({
      name: 'infercache_feature_writes_total',
      help: 'Feature rows written by PutFeatures, by view and result (written, skipped_older, failed)',
      labelNames: ['view', 'result'] as const,
      registers: [registry],
    }),
  };
}

export type FeatureMetrics = ReturnType<typeof featureMetrics>;

function embeddingMetrics(registry: Registry) {
  return {
    rows: new Counter({
      name: 'infercache_embedding_rows_total',
      help: 'Embedding rows answered, by model and where they came from (l1, l2, model)',
      labelNames: ['model', 'source'] as const,
      registers: [registry],
    }),
    float32Kept: new Counter({
      name: 'infercache_embedding_float32_kept_total',
      help: 'Vectors of a float16-stored model kept as float32 because a component is beyond what a half holds (±65504)',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
  };
}

function coherenceMetrics(registry: Registry) {
  return {
    lag: new Histogram({
      name: 'infercache_coherence_invalidation_lag_seconds',
      help: 'Time from a change being announced (stamped just before it is written to Redis) to this sidecar applying it to its L1; pub/sub arrivals only',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    changes: new Counter({
      name: 'infercache_coherence_changes_total',
      help: 'Fleet changes applied, by type (keys, generation, version) and how they arrived (pubsub, log)',
      labelNames: ['type', 'via'] as const,
      registers: [registry],
    }),
    catchUps: new Counter({
      name: 'infercache_coherence_catch_ups_total',
      help: 'Reads of the bus log after a reconnect, by result (ok, failed, log_trimmed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    l1Readable: new Gauge({
      name: 'infercache_coherence_l1_readable',
      help: '0 while L1 is skipped because the fleet changes are being caught up with after a reconnect',
      registers: [registry],
    }),
    trackingMode: new Gauge({
      name: 'infercache_coherence_tracking_mode',
      help: 'Client-side-cache tracking of feature keys: 1 for the active mode (bcast, refused, off)',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    trackedKeys: new Counter({
      name: 'infercache_coherence_tracked_keys_total',
      help: 'Keys Redis reported changed by any writer (client tracking), dropped from L1',
      registers: [registry],
    }),
  };
}

export type CoherenceMetrics = ReturnType<typeof coherenceMetrics>;

function warmingMetrics(registry: Registry) {
  return {
    sketchBytes: new Gauge({
      name: 'infercache_popularity_sketch_bytes',
      help: 'Memory of the frequency sketch that ranks entities for warming',
      registers: [registry],
    }),
    rows: new Counter({
      name: 'infercache_warm_rows_total',
      help: 'Rows warmed, by kind (f, p, e) and result (warmed, skipped, failed)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    seconds: new Counter({
      name: 'infercache_warm_seconds_total',
      help: 'Time spent warming, by trigger (start, switch, schedule, request)',
      labelNames: ['trigger'] as const,
      registers: [registry],
    }),
    runs: new Counter({
      name: 'infercache_warm_runs_total',
      help: 'Warm runs, by trigger and outcome (done, budget, cancelled, failed)',
      labelNames: ['trigger', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export type WarmingMetrics = ReturnType<typeof warmingMetrics>;

function traceMetrics(registry: Registry) {
  return {
    records: new PlainCounter({
      name: 'infercache_trace_records_total',
      help: 'Lines written to the L1 trace (INFERCACHE_TRACE_FILE), by kind and op (lookup, store)',
      labelNames: ['kind', 'op'] as const,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'infercache_trace_dropped_total',
      help: 'Trace lines of sampled keys not written, by reason (backpressure: the file was busy and the buffer full; max_bytes: the file reached INFERCACHE_TRACE_MAX_BYTES; error: writing failed)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    writtenBytes: new Counter({
      name: 'infercache_trace_written_bytes_total',
      help: 'Bytes written to the L1 trace file',
      registers: [registry],
    }),
  };
}

export type TraceMetrics = ReturnType<typeof traceMetrics>;

function apiMetrics(registry: Registry) {
  return {
    requests: new PlainCounter({
      name: 'infercache_requests_total',
      help: 'gRPC calls by method and status code, including calls refused before a handler ran',
      labelNames: ['method', 'code'] as const,
      registers: [registry],
    }),
    requestDuration: new PlainHistogram({
      name: 'infercache_request_duration_seconds',
      help: 'gRPC call latency by method and status code',
      labelNames: ['method', 'code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    requestBytes: new PlainHistogram({
      name: 'infercache_request_size_bytes',
      help: 'Size of decoded request messages by method',
      labelNames: ['method'] as const,
      buckets: [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
      registers: [registry],
    }),
  };
}

/**
 * All metrics of one sidecar, in one registry. Names are part of the
 * versioned contract: every one starts with `infercache_` and follows the
 * Prometheus naming rules `promtool check metrics` enforces.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'infercache_' });
  // prom-client names these gauges *_total, which promtool rejects (only
  // counters may end in _total); the handle and resource counts remain as
  // infercache_nodejs_active_{handles,resources}.
  for (const name of ['handles', 'requests', 'resources']) {
    registry.removeSingleMetric(`infercache_nodejs_active_${name}_total`);
  }
  /** The L1 stores report here, one per kind; read at scrape time. */
  const l1Sources = new Map<string, L1Source>();
  return {
    registry,
    l1Sources,
    api: apiMetrics(registry),
    cache: cacheMetrics(registry, l1Sources),
    redis: redisMetrics(registry),
    model: modelMetrics(registry),
    features: featureMetrics(registry),
    embeddings: embeddingMetrics(registry),
    coherence: coherenceMetrics(registry),
    warming: warmingMetrics(registry),
    trace: traceMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
