import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const MiB = 1024 * 1024;
const defaultModelsDir = fileURLToPath(new URL('../../models', import.meta.url));

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:50051');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const redisUrl = z
  .string()
  .refine((v) => v === '' || /^rediss?:\/\//.test(v), 'expected redis://host:port (or empty for no L2)');

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
    doc: 'Redis for the shared L2; empty runs L1 only',
  },
  modelsDir: {
    env: 'MODELS_DIR',
    schema: z.string().min(1),
    default: defaultModelsDir,
    doc: 'models/<name>/<version>/model.onnx',
  },
  l1MaxBytes: {
    env: 'L1_MAX_BYTES',
    schema: int(1024, 2 ** 40),
    default: 256 * MiB,
    doc: 'L1 size bound in bytes',
  },
  l1TtlMs: { env: 'L1_TTL_MS', schema: int(1, 2 ** 31), default: 5 * 60_000, doc: 'L1 entry lifetime' },
  l2TtlMs: { env: 'L2_TTL_MS', schema: int(1000, 2 ** 40), default: 60 * 60_000, doc: 'L2 entry lifetime' },
  l2TtlJitter: {
    env: 'L2_TTL_JITTER',
    schema: z.coerce.number().min(0).max(0.5),
    default: 0.1,
    doc: 'L2 TTL jitter (fraction), so a warmed batch does not expire at once',
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
    schema: int(1, 100),
    default: 50,
    doc: 'percent of Redis calls failing over the last second that opens the L2 circuit',
  },
  l2MaxPendingWrites: {
    env: 'L2_MAX_PENDING_WRITES',
    schema: int(1, 1_000_000),
    default: 10_000,
    doc: 'rows queued for Redis writes; more are dropped (and counted)',
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
    default: 64 * MiB,
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
  inferenceQueue: {
    env: 'INFERENCE_QUEUE',
    schema: int(1, 100_000),
    default: 256,
    doc: 'model runs waiting for a worker; more are refused',
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
