import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { rememberingHasher } from '../cache/hash_memo.js';
import { createKeyHasher } from '../cache/keys.js';
import { L1Cache } from '../cache/l1.js';
import { RowEngine } from '../cache/row_engine.js';
import { TieredCache } from '../cache/tiered.js';
import { FleetState } from '../coherence/fleet_state.js';
import { redactUrl } from '../config/redact.js';
import type { Config } from '../config/schema.js';
import { InferCacheError } from '../errors.js';
import { FeatureReader } from '../features/get_features.js';
import type { FeatureView } from '../features/view.js';
import { loadFeatureViews } from '../features/views_file.js';
import { createMetrics } from '../ops/metrics.js';
import { createRedisDoor } from '../redis/create_door.js';
import type { RedisDoor } from '../redis/door.js';

/** The view `name` of the config's views file (INFERCACHE_FEATURE_VIEWS), or a clear error. */
export async function viewNamed(config: Config, name: string): Promise<FeatureView> {
  const defaults = { l1TtlMs: config.l1TtlMs, notFoundTtlMs: config.featureNotFoundTtlMs };
  const views =
    config.featureViews === '' ? new Map() : await loadFeatureViews(config.featureViews, defaults);
  const view = views.get(name);
  if (view === undefined) {
    const known = views.size === 0 ? 'none' : [...views.keys()].join(', ');
    throw new InferCacheError(
      'E_CONFIG',
      `unknown view "${name}" (views in ${config.featureViews || 'no views file'}: ${known})`,
    );
  }
  return view;
}

export interface FeatureStore {
  readonly door: RedisDoor;
  /** Makes the keys: the sidecars' reader, built from the same settings, so the keys match theirs. */
  readonly reader: FeatureReader;
  close(): Promise<void>;
}

/**
 * The Redis door and feature reader a sidecar with `config` would have,
 * once the door is connected. `timeoutMs` bounds each round trip (a bulk
 * write of many rows needs more than a lookup's INFERCACHE_L2_TIMEOUT_MS)
 * and the wait for the connection.
 */
export async function openFeatureStore(
  config: Config,
  view: FeatureView,
  timeoutMs: number,
): Promise<FeatureStore> {
  if (config.redisUrl === '') {
    throw new InferCacheError(
      'E_CONFIG',
      'no Redis configured (INFERCACHE_REDIS_URL is empty): give --redis-url, or --addr to load through a sidecar',
    );
  }
  // The door logs its connection story for a sidecar's operators; here its
  // first complaint becomes the reason in our own message instead.
  const complaints: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => complaints.push(line) });
  const metrics = createMetrics();
  const door = createRedisDoor(
    {
      url: config.redisUrl,
      mode: config.redisMode,
      timeoutMs,
      circuit: { resetMs: config.l2BreakerResetMs, errorThresholdPct: config.l2BreakerThresholdPct },
    },
    metrics.redis,
    log,
  );
  const deadline = Date.now() + timeoutMs;
  while (!door.connected) {
    if (complaints.length > 0 || Date.now() > deadline) {
      await door.close();
      const reason = complaintOf(complaints[0]) ?? `no connection within ${timeoutMs} ms`;
      throw new InferCacheError(
        'E_UNAVAILABLE',
        `cannot reach Redis at ${redactUrl(config.redisUrl)}: ${reason}`,
      );
    }
    await sleep(10);
  }
  // Rows go under the view's current generation, as the fleet reads them: a
  // load after `invalidate view` under generation 0 would never be seen.
  const state = await new FleetState(door, config.keyPrefix).load();
  if (state === undefined) {
    await door.close();
    throw new InferCacheError('E_UNAVAILABLE', "cannot read the fleet's key generations from Redis");
  }
  // Keys come from a reader wired like the sidecar's (app.ts); its L1 is never used.
  const l1 = new L1Cache(
    { maxBytes: 1024 * 1024, shares: config.l1Shares },
    metrics.cache,
    metrics.l1Sources,
  );
  const cache = new TieredCache(l1, door, { maxPendingWrites: 1 }, metrics.cache);
  const plainHasher = createKeyHasher(config.keyHash, config.keySecret);
  const reader = new FeatureReader({
    views: () => new Map([[view.name, view]]),
    engine: new RowEngine(cache),
    // Hashed and remembered as the sidecar does (app.ts), so a lookup here costs what it costs there.
    hasher: rememberingHasher(plainHasher),
    writeHasher: plainHasher,
    door,
    keyPrefix: config.keyPrefix,
    maxEntityRows: config.maxEntityRows,
    l2Jitter: config.l2TtlJitter,
    metrics: metrics.features,
    now: Date.now,
    generation: (scope) => state.generations.get(scope) ?? 0,
  });
  return { door, reader, close: () => door.close() };
}

function complaintOf(line: string | undefined): string | undefined {
  if (line === undefined) return undefined;
  try {
    const parsed = JSON.parse(line) as { err?: unknown; msg?: unknown };
    return String(parsed.err ?? parsed.msg);
  } catch {
    return line.trim();
  }
}
