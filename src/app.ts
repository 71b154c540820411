import type { Server as HttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Health } from './api/health.js';
import { listModelsHandler } from './api/list_models_handler.js';
import { predictHandler } from './api/predict_handler.js';
import { startGrpcServer } from './api/server.js';
import { createKeyHasher } from './cache/keys.js';
import { L1Cache } from './cache/l1.js';
import { L2Cache } from './cache/l2.js';
import { TieredCache } from './cache/tiered.js';
import { redactConfig } from './config/redact.js';
import type { Config } from './config/schema.js';
import { InferencePool } from './model/pool.js';
import { loadModels } from './model/registry.js';
import { startMetricsServer } from './ops/http.js';
import type { Logger } from './ops/logger.js';
import { createMetrics } from './ops/metrics.js';
import { PredictService } from './predict/service.js';

export interface App {
  readonly grpcPort: number;
  /** Drains and stops everything; resolves when it is safe to exit. */
  shutdown(reason: string): Promise<void>;
}

/** Wires the sidecar together from a validated config and starts serving. */
export async function startApp(config: Config, log: Logger): Promise<App> {
  log.info({ config: redactConfig(config) }, 'effective configuration');
  const metrics = createMetrics();
  const health = new Health();

  const models = await loadModels(config.modelsDir);
  let ready = 0;
  for (const model of models.values()) {
    health.setModel(model.name, model.current !== undefined);
    for (const v of model.versions) {
      if (v.state === 'ready') ready++;
      else log.error({ model: v.name, version: v.version, err: v.error }, 'model version failed to load');
    }
    log.info({ model: model.name, current: model.current?.version ?? null }, 'model loaded');
  }
  metrics.modelsLoaded.labels('ready').set(ready);
  metrics.modelsLoaded
    .labels('failed')
    .set([...models.values()].reduce((n, m) => n + m.versions.length, 0) - ready);
  if (models.size === 0)
    log.warn({ modelsDir: config.modelsDir }, 'no models found: Predict will answer NOT_FOUND');

  const pool = new InferencePool({
    workers: config.inferenceWorkers,
    intraOpThreads: config.inferenceThreads,
    maxQueue: config.inferenceQueue,
    preload: [...models.values()].flatMap((m) => (m.current ? [m.current.path] : [])),
  });
  const l1 = new L1Cache({ maxBytes: config.l1MaxBytes, ttlMs: config.l1TtlMs }, metrics);
  let l2: L2Cache | undefined;
  if (config.redisUrl === '') log.warn('no Redis configured: running with the in-process L1 only');
  else
    l2 = new L2Cache(
      {
        url: config.redisUrl,
        timeoutMs: config.l2TimeoutMs,
        maxPendingWrites: config.l2MaxPendingWrites,
        circuit: { resetMs: config.l2BreakerResetMs, errorThresholdPct: config.l2BreakerThresholdPct },
      },
      metrics,
      log,
    );
  const cache = new TieredCache(
    l1,
    l2,
    { l2TtlMs: config.l2TtlMs, l2TtlJitter: config.l2TtlJitter },
    metrics,
  );
  const service = new PredictService({
    models: () => models,
    cache,
    pool,
    hasher: createKeyHasher(config.keyHash, config.keySecret),
    keyPrefix: config.keyPrefix,
    maxBatchRows: config.maxBatchRows,
    metrics,
  });

  const { server, port } = await startGrpcServer(
    {
      addr: config.grpcAddr,
      maxMessageBytes: config.maxMessageBytes,
      maxInflightCalls: config.maxInflightCalls,
    },
    { Predict: predictHandler(service), ListModels: listModelsHandler(() => models) },
    health,
    metrics,
    log,
  );
  const http =
    config.metricsAddr === 'off' ? undefined : await startMetricsServer(config.metricsAddr, metrics.registry);
  health.serving();
  log.info(
    { grpcAddr: config.grpcAddr, grpcPort: port, metricsAddr: config.metricsAddr },
    'infercache serving',
  );

  let stopping: Promise<void> | undefined;
  return {
    grpcPort: port,
    shutdown(reason) {
      stopping ??= drain(reason);
      return stopping;
    },
  };

  async function drain(reason: string): Promise<void> {
    log.info(
      { reason, graceMs: config.shutdownGraceMs },
      'draining: health NOT_SERVING, finishing in-flight calls',
    );
    health.draining();
    // Give load balancers and readiness probes time to see NOT_SERVING
    // while calls are still accepted.
    if (config.drainDelayMs > 0) await sleep(config.drainDelayMs);
    // Stop accepting calls and let the ones in progress finish, bounded by
    // the grace period; Watch streams are ended, as they never end alone.
    const stopped = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
    health.endWatches();
    const graceOver = new AbortController();
    const finished = await Promise.race([
      stopped,
      sleep(config.shutdownGraceMs, false, { signal: graceOver.signal }).catch(() => false),
    ]);
    graceOver.abort();
    if (!finished) {
      log.warn({ graceMs: config.shutdownGraceMs }, 'grace period over: cancelling the calls still running');
      server.forceShutdown();
    }
    await Promise.allSettled([l2?.close(), pool.close(), closeHttp(http)]);
    log.info('stopped');
  }
}

function closeHttp(http: HttpServer | undefined): Promise<void> {
  return new Promise((resolve) => (http ? http.close(() => resolve()) : resolve()));
}
