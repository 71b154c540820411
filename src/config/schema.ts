import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { l1Arena, l1Policies, l1Shares } from './l1_settings.js';
import { parseRedisUrl } from './redis_url.js';

const MiB = 1024 * 1024;
const defaultModelsDir = fileURLToPath(new URL('../../models', import.meta.url));
const defaultFeatureViews = fileURLToPath(new URL('../../models/feature_views.yaml', import.meta.url));

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:50051');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const redisUrl = z.string().superRefine((v, ctx) => {
  if (v === '') return;
  try {
    parseRedisUrl(v);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `${(error as Error).message} (or empty for no L2)` });
  }
});

/**
 * Every setting: its env var, flag, default and meaning. This table is the
 * one place settings are declared; the CLI flags, env parsing and the README
 * table are derived from it. Version 1 of the config contract.
 */
export const SETTINGS = {
  grpcAddr: { env: 'GRPC_ADDR', schema: hostPort, default: '0.0.0.0:50051', doc: 'gRPC listen address' },
  metricsAddr: {
    env: 'METRICS_ADDR',
    schema: z.union([hostPort, z.literal('off')]),
    default: '0.0.0.0:9464',
    doc: 'HTTP address for GET /metrics, or "off"',
  },
  redisUrl: {
    env: 'REDIS_URL',
    schema: redisUrl,
    default: 'redis://127.0.0.1:6379',
    doc: 'Redis for the shared L2: one node, or several seed nodes of a cluster (host:port,host:port); empty runs L1 only',
  },
  redisMode: {
    env: 'REDIS_MODE',
    schema: z.enum(['single', 'cluster']),
    default: 'single',
    doc: 'single: one Redis server (or a proxy endpoint); cluster: Redis Cluster, discovered from the seed nodes',
  },
  modelsDir: {
    env: 'MODELS_DIR',
    schema: z.string().min(1),
    default: defaultModelsDir,
    doc: 'models/<name>/<version>/model.onnx',
  },
  featureViews: {
    env: 'FEATURE_VIEWS',
    schema: z.string(),
    default: defaultFeatureViews,
    doc: 'feature views file (YAML or JSON); empty serves no views',
  },
  maxEntityRows: {
    env: 'MAX_ENTITY_ROWS',
    schema: int(1, 1_000_000),
    default: 10_000,
    doc: 'entity rows per GetFeatures, PutFeatures or Predict by entity',
  },
  featureNotFoundTtlMs: {
    env: 'FEATURE_NOT_FOUND_TTL_MS',
    schema: int(0, 2 ** 31),
    default: 5000,
    doc: 'how long an entity found nowhere is remembered in L1 (a view can set its own)',
  },
  modelsPollMs: {
    env: 'MODELS_POLL_MS',
    schema: int(100, 3_600_000),
    default: 2000,
    doc: 'how often the models directory is scanned for new, changed and removed versions',
  },
  modelVersionsLoaded: {
    env: 'MODEL_VERSIONS_LOADED',
    schema: int(1, 100),
    default: 2,
    doc: 'ready versions per model kept loaded (the current one among them); older ones are unloaded',
  },
  l1MaxBytes: {
    env: 'L1_MAX_BYTES',
    schema: int(1024, 2 ** 40),
    default: 256 * MiB,
    doc: 'L1 size bound in bytes, all kinds together',
  },
  l1Shares: {
    env: 'L1_SHARES',
    schema: l1Shares,
    default: 'p=0.5,f=0.3,e=0.2',
    doc: 'share of the L1 bound per kind: p predictions, f feature rows, e embeddings; 0 turns L1 off for a kind',
  },
  l1Policy: {
    env: 'L1_POLICY',
    schema: l1Policies,
    default: 'p=tinylfu,f=lru,e=tinylfu',
    doc: 'what each kind of L1 keeps when full: lru (least recently used goes) or tinylfu (W-TinyLFU: a newcomer must have been asked for more often than what it displaces); a kind not named is lru',
  },
  l1Arena: {
    env: 'L1_ARENA',
    schema: l1Arena,
    // Off by default: loop_latency showed no gain in its p99 ratio (README, L1 memory layout).
    default: 'off',
    doc: 'kinds whose L1 values are kept as bytes in a few large buffers (a slab arena) rather than as objects, so the garbage collector has little to walk: p predictions, e embeddings, or off',
  },
  l1TtlMs: { env: 'L1_TTL_MS', schema: int(1, 2 ** 31), default: 5 * 60_000, doc: 'L1 entry lifetime' },
  l2TtlMs: { env: 'L2_TTL_MS', schema: int(1000, 2 ** 40), default: 60 * 60_000, doc: 'L2 entry lifetime' },
  l2TtlJitter: {
    env: 'L2_TTL_JITTER',
    schema: z.coerce.number().min(0).max(0.5),
    default: 0.1,
    doc: 'L2 TTL jitter (fraction), so a warmed batch does not expire at once',
  },
  earlyRefreshBeta: {
    env: 'EARLY_REFRESH_BETA',
    schema: z.coerce.number().min(0).max(100),
    default: 1,
    doc: 'early refresh of cached predictions before they expire, and of feature rows of views with an origin before they pass max_age (XFetch beta: larger refreshes earlier; 0: off)',
  },
  autoBypassHitRatio: {
    env: 'AUTO_BYPASS_HIT_RATIO',
    schema: z.coerce.number().min(0).max(1),
    // Off: this sidecar sees only its own hits, not those other sidecars
    // get from rows it writes to L2, so its window can call a version
    // worthless that the fleet lives on; turning it on is the operator's call.
    default: 0,
    doc: 'stop caching a model version whose share of rows answered from L1 or L2 over a window is below this while a run costs less than an L2 round trip (0: off)',
  },
  autoBypassWindowRows: {
    env: 'AUTO_BYPASS_WINDOW_ROWS',
    schema: int(1, 100_000_000),
    // A ratio over 10000 rows is within 1 point of the true one (95%) whatever it is.
    default: 10_000,
    doc: 'rows of a model version over which its hit ratio is judged, and cached again after a bypass before it is judged anew',
  },
  autoBypassRecheckMs: {
    env: 'AUTO_BYPASS_RECHECK_MS',
    schema: int(100, 86_400_000),
    default: 60_000,
    doc: 'how long an auto-bypass lasts before the version is cached again for one window',
  },
  autoBypassRoundTrips: {
    env: 'AUTO_BYPASS_ROUND_TRIPS',
    schema: z.coerce.number().min(0.001).max(1_000_000),
    default: 1,
    doc: 'a run counts as cheaper than caching when its measured cost is below this many measured L2 round trips',
  },
  l2TimeoutMs: {
    env: 'L2_TIMEOUT_MS',
    schema: int(1, 60_000),
    default: 50,
    doc: 'timeout of one Redis command',
  },
  l2BreakerResetMs: {
    env: 'L2_BREAKER_RESET_MS',
    schema: int(10, 600_000),
    default: 1000,
    doc: 'time the L2 circuit stays open before a trial call',
  },
  l2BreakerThresholdPct: {
    env: 'L2_BREAKER_THRESHOLD_PCT',
    // opossum opens when the failure share is above the threshold: 100 would never open.
    schema: int(1, 99),
    default: 50,
    doc: 'percent of Redis calls failing over the last second that opens the L2 circuit',
  },
  l2MaxPendingWrites: {
    env: 'L2_MAX_PENDING_WRITES',
    schema: int(1, 1_000_000),
    default: 10_000,
    doc: 'rows queued for Redis writes; more are dropped (and counted)',
  },
  busLogLength: {
    env: 'BUS_LOG_LENGTH',
    schema: int(100, 10_000_000),
    default: 100_000,
    doc: 'changes the fleet bus log keeps in Redis for sidecars catching up after a reconnect',
  },
  busResyncMs: {
    env: 'BUS_RESYNC_MS',
    schema: int(50, 600_000),
    default: 1000,
    doc: 'how often the bus log is read for changes pub/sub may have missed',
  },
  clientTracking: {
    env: 'CLIENT_TRACKING',
    schema: z.enum(['on', 'off']),
    default: 'on',
    doc: 'Redis client tracking of feature keys, so writes that bypass the sidecar reach L1 (off: stale by at most the L1 TTL)',
  },
  popularityCapacity: {
    env: 'POPULARITY_CAPACITY',
    schema: int(1000, 100_000_000),
    default: 1_000_000,
    doc: 'distinct entities the popularity sketch tells apart (its memory: about 2 bytes per entity, rounded up to a power of two)',
  },
  popularityTopK: {
    env: 'POPULARITY_TOP_K',
    schema: int(1, 1_000_000),
    default: 10_000,
    doc: 'most looked-up entities kept per view, here and in the fleet ranking',
  },
  popularityPublishMs: {
    env: 'POPULARITY_PUBLISH_MS',
    schema: int(1000, 86_400_000),
    default: 30_000,
    doc: 'how often this sidecar adds the lookups of its top entities since its last publish to the fleet ranking in Redis',
  },
  popularityHalfLifeMs: {
    env: 'POPULARITY_HALF_LIFE_MS',
    schema: int(1000, 30 * 86_400_000),
    default: 3_600_000,
    doc: 'the fleet ranking halves its scores this often, so popularity fades',
  },
  warmStartBudgetMs: {
    env: 'WARM_START_BUDGET_MS',
    schema: int(0, 3_600_000),
    default: 10_000,
    doc: 'time at start spent warming the fleet top entities before health says SERVING (0: no warming)',
  },
  warmTop: {
    env: 'WARM_TOP',
    schema: int(0, 1_000_000),
    default: 10_000,
    doc: 'entities per view warmed at start, before a version switch and on the schedule',
  },
  warmRowsPerSecond: {
    env: 'WARM_ROWS_PER_SECOND',
    schema: int(1, 10_000_000),
    default: 20_000,
    doc: 'rate limit of warming, so it never starves live traffic',
  },
  warmSwitchBudgetMs: {
    env: 'WARM_SWITCH_BUDGET_MS',
    schema: int(0, 3_600_000),
    default: 10_000,
    doc: "time a new model version spends computing the top entities' predictions or embeddings before it becomes current (0: switch cold)",
  },
  warmBatchRows: {
    env: 'WARM_BATCH_ROWS',
    schema: int(1, 100_000),
    default: 1000,
    doc: 'entities per warming batch (one feature read and one model run each)',
  },
  warmConcurrency: {
    env: 'WARM_CONCURRENCY',
    schema: int(1, 64),
    default: 1,
    doc: 'warming batches in flight at once: a warm runs its batches in parallel up to this, a bound every warm in progress shares',
  },
  warmIntervalMs: {
    env: 'WARM_INTERVAL_MS',
    schema: int(0, 86_400_000),
    default: 0,
    doc: "warm the top entities (the fleet ranking; without Redis the sidecar's own) on this schedule too, each run within one interval (0: off)",
  },
  l1Snapshot: {
    env: 'L1_SNAPSHOT',
    schema: z.string().min(1),
    default: 'auto',
    doc: 'without Redis: L1 is written to this file at shutdown and read back at start, each entry less the time the sidecar was down ("auto": <tmpdir>/infercache-l1-<key prefix>.snapshot; "off")',
  },
  traceFile: {
    env: 'TRACE_FILE',
    schema: z.string(),
    default: '',
    doc: 'file to record a sampled trace of the L1 lookups to, for `infercache simulate --trace` (rewritten at each start); empty records nothing',
  },
  traceSample: {
    env: 'TRACE_SAMPLE',
    schema: z.coerce.number().gt(0).max(1),
    default: 0.01,
    doc: 'fraction of the L1 keys traced, chosen by a hash of the key: a key traced is traced on every lookup',
  },
  traceMaxBytes: {
    env: 'TRACE_MAX_BYTES',
    schema: int(1024, 2 ** 40),
    default: 64 * MiB,
    doc: 'size bound of the trace file: recording stops there (one WARN line; counted in infercache_trace_dropped_total)',
  },
  keyPrefix: {
    env: 'KEY_PREFIX',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/),
    default: 'ic',
    doc: 'Redis key prefix',
  },
  keyHash: {
    env: 'KEY_HASH',
    schema: z.enum(['xxh3-128', 'hmac-sha256-128']),
    default: 'xxh3-128',
    doc: 'hash of canonical input bytes',
  },
  keySecret: {
    env: 'KEY_SECRET',
    schema: z.string(),
    default: '',
    doc: 'secret keying the hash (untrusted callers)',
  },
  maxBatchRows: { env: 'MAX_BATCH_ROWS', schema: int(1, 1_000_000), default: 8192, doc: 'rows per Predict' },
  maxInflightCalls: {
    env: 'MAX_INFLIGHT_CALLS',
    schema: int(1, 1_000_000),
    default: 2048,
    doc: 'calls served at once; more are refused with RESOURCE_EXHAUSTED',
  },
  maxMessageBytes: {
    env: 'MAX_MESSAGE_BYTES',
    schema: int(1024, 2 ** 31 - 1),
    // The worst 16 MiB request (hundreds of thousands of tiny fields) holds
    // the event loop ~30 ms here (bench: request_cost); 8192 rows of 1 KiB,
    // the default batch limit of a wide model, fit in it.
    default: 16 * MiB,
    doc: 'largest gRPC message received or sent',
  },
  inferenceWorkers: {
    env: 'INFERENCE_WORKERS',
    schema: int(1, 64),
    default: 1,
    doc: 'worker threads running ONNX sessions',
  },
  inferenceThreads: {
    env: 'INFERENCE_THREADS',
    schema: int(1, 256),
    default: Math.max(1, availableParallelism() - 1),
    doc: 'intra-op threads per worker (leave a core for the event loop)',
  },
  inferenceNice: {
    env: 'INFERENCE_NICE',
    schema: int(0, 19),
    default: 10,
    doc: 'added to the nice value of the inference worker threads (Linux only, per thread; ignored elsewhere): with every core busy the event loop, which answers hits, runs first; 0 leaves them as the process is',
  },
  maxRunRows: {
    env: 'MAX_RUN_ROWS',
    schema: int(1, 1_000_000),
    default: 1024,
    doc: 'rows per model run; larger batches run in pieces, so a cancelled call or a shutdown waits for one piece at most',
  },
  batchMaxRows: {
    env: 'BATCH_MAX_ROWS',
    schema: int(1, 1_000_000),
    // bench: micro_batching (README, Performance) measured the heavy model's
    // throughput at 64 clients against this bound.
    default: 256,
    doc: "rows of concurrent calls to one row-cached model version that may share one run (1: each call runs alone; never more than MAX_RUN_ROWS); a model's model.json can set its own",
  },
  batchMaxDelayUs: {
    env: 'BATCH_MAX_DELAY_US',
    schema: int(0, 1_000_000),
    // bench: micro_batching; calls queued while the worker is busy join
    // without any delay, which is where batching pays.
    default: 0,
    doc: "microseconds the oldest rows of a batch may wait for more calls while a worker is free (0: batches form only from calls that queued while the workers were busy); a model's model.json can set its own",
  },
  inferenceQueue: {
    env: 'INFERENCE_QUEUE',
    schema: int(1, 100_000),
    default: 256,
    doc: 'model runs (calls, or pieces of one) waiting for a worker or for a batch; more are refused',
  },
  drainDelayMs: {
    env: 'DRAIN_DELAY_MS',
    schema: int(0, 600_000),
    default: 0,
    doc: 'on SIGTERM, time health shows NOT_SERVING before calls are refused',
  },
  shutdownGraceMs: {
    env: 'SHUTDOWN_GRACE_MS',
    schema: int(0, 600_000),
    default: 10_000,
    doc: 'time in-flight calls get on SIGTERM',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
    default: 'info',
    doc: 'log level',
  },
} as const;

type Settings = typeof SETTINGS;
export type Config = { -readonly [K in keyof Settings]: z.infer<Settings[K]['schema']> };
export type SettingName = keyof Settings;

/** Settings whose values never reach a log line. */
export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set(['keySecret']);

export const ENV_PREFIX = 'INFERCACHE_';

/** `l1MaxBytes` -> `--l1-max-bytes`. */
export function flagName(name: SettingName): string {
  return `--${name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}
