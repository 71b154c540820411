import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activateModelHandler } from './api/activate_model_handler.js';
import { getEmbeddingsHandler } from './api/embeddings_handler.js';
import { getFeaturesHandler, putFeaturesHandler } from './api/features_handlers.js';
import { Health } from './api/health.js';
import { invalidateHandler } from './api/invalidate_handler.js';
import { listModelsHandler } from './api/list_models_handler.js';
import { predictHandler } from './api/predict_handler.js';
import { startGrpcServer } from './api/server.js';
import { afterReady } from './api/unary.js';
import { warmHandler } from './api/warm_handler.js';
import { drain } from './app/drain.js';
import { reportModel, warmUpHook } from './app/model_hooks.js';
import { storedKind } from './app/stored_kind.js';
import { rememberingHasher } from './cache/hash_memo.js';
import { KeyMemo } from './cache/key_memo.js';
import { createKeyHasher } from './cache/keys.js';
import { L1Cache } from './cache/l1.js';
import { RowEngine } from './cache/row_engine.js';
import { TieredCache } from './cache/tiered.js';
import { openTrace, type TraceRecorder } from './cache/trace_recorder.js';
import { Coherence } from './coherence/coherence.js';
import { redactConfig } from './config/redact.js';
import type { Config } from './config/schema.js';
import { EntityEmbeddingService } from './embeddings/entity_embeddings.js';
import { EmbeddingService } from './embeddings/service.js';
import { FeatureReader } from './features/get_features.js';
import { FeatureWriter } from './features/put_features.js';
import type { FeatureView } from './features/view.js';
import { loadFeatureViews } from './features/views_file.js';
import { ModelRegistry } from './model/model_registry.js';
import { InferencePool } from './model/pool.js';
import { RunQueue } from './model/run_queue.js';
import { releaseSession } from './model/session_release.js';
import { startMetricsServer } from './ops/http.js';
import type { Logger } from './ops/logger.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { EntityPlans } from './predict/entity_plan.js';
import { EntityPredictService } from './predict/entity_service.js';
import { PredictService } from './predict/service.js';
import { createRedisDoor } from './redis/create_door.js';
import { FleetRanking } from './warming/fleet_ranking.js';
import { type KindOf, readSnapshot, writeSnapshot } from './warming/l1_snapshot.js';
import { Popularity } from './warming/popularity.js';
import { versionWarming } from './warming/version_warming.js';
import { Warmer } from './warming/warmer.js';

export interface App {
  readonly grpcPort: number;
  /** Drains and stops everything; resolves when it is safe to exit. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Wires the sidecar together from a validated config and starts serving.
 * When a step fails (the gRPC port taken, say), what the steps before it
 * opened is closed before the error is thrown: the Redis connections, and
 * the inference workers once they have finished loading (see
 * InferencePool.close).
 */
export async function startApp(config: Config, log: Logger): Promise<App> {
  const opened: (() => Promise<unknown>)[] = [];
  try {
    return await assemble(config, log, opened);
  } catch (error) {
    await Promise.allSettled(opened.map((close) => close()));
    throw error;
  }
}

async function assemble(config: Config, log: Logger, opened: (() => Promise<unknown>)[]): Promise<App> {
  log.info({ config: redactConfig(config) }, 'effective configuration');
  const metrics = createMetrics();
  const health = new Health();

  // Views first: a model that reads features is checked against them as it loads.
  const views = await featureViews(config, log);
  const plans = new EntityPlans(
    () => views,
    (mv, problem) =>
      log.warn(
        { model: mv.name, version: mv.version, err: problem },
        'model version loaded, but cannot be called by entity',
      ),
  );

  if (config.redisUrl === '') log.warn('no Redis configured: running with the in-process L1 only');
  const door = createRedisDoor(
    {
      url: config.redisUrl,
      mode: config.redisMode,
      timeoutMs: config.l2TimeoutMs,
      circuit: { resetMs: config.l2BreakerResetMs, errorThresholdPct: config.l2BreakerThresholdPct },
    },
    metrics.redis,
    log,
  );
  opened.push(() => door.close());
  const trace = await l1Trace(config, metrics, log);
  const l1 = new L1Cache(
    {
      maxBytes: config.l1MaxBytes,
      shares: config.l1Shares,
      policies: config.l1Policy,
      arena: config.l1Arena,
      ...(trace === undefined ? {} : { trace }),
    },
    metrics.cache,
    metrics.l1Sources,
  );
  const cache = new TieredCache(l1, door, { maxPendingWrites: config.l2MaxPendingWrites }, metrics.cache);
  const engine = new RowEngine(cache);
  const coherence = new Coherence(
    door,
    cache,
    {
      prefix: config.keyPrefix,
      logLength: config.busLogLength,
      resyncMs: config.busResyncMs,
      tracking: config.clientTracking === 'on',
    },
    { onVersion: (model): Promise<void> => registry.refresh(model) },
    metrics.coherence,
    log,
  );
  await coherence.start();

  // Set once the workers and the warmer exist; versions found later are warmed through them.
  let runs: RunQueue | undefined;
  let warmer: Warmer | undefined;
  const registry = new ModelRegistry(
    {
      dir: config.modelsDir,
      pollMs: config.modelsPollMs,
      keepLoaded: config.modelVersionsLoaded,
      check: plans.check,
    },
    {
      chosen: (model) => coherence.fleet.version(model),
      warmUp: warmUpHook(() => runs, log),
      beforeSwitch: async (next, previous) => {
        // A first version has no traffic to lose; later ones start warm, within the budget.
        if (previous === undefined || warmer === undefined || config.warmSwitchBudgetMs === 0) return;
        const warmed = await warmer.warmVersion(
          next,
          config.warmTop,
          AbortSignal.timeout(config.warmSwitchBudgetMs),
        );
        if (warmed.total > 0) {
          log.info(
            { model: next.name, version: next.version, ...warmed },
            'warmed the new version before the switch',
          );
        }
      },
      release: (version) => {
        if (version.state === 'ready') releaseSession(version.sessionKey);
      },
      changed: (model) => reportModel(model, registry.models(), health, metrics),
    },
    log,
  );
  await registry.start();
  const models = () => registry.models();
  if (models().size === 0)
    log.warn({ modelsDir: config.modelsDir }, 'no models found: Predict will answer NOT_FOUND');
  for (const model of models().values()) {
    log.info({ model: model.name, current: model.current?.version ?? null }, 'model loaded');
  }

  const pool = new InferencePool({
    workers: config.inferenceWorkers,
    intraOpThreads: config.inferenceThreads,
    nice: config.inferenceNice,
    preload: [...models().values()].flatMap((m) =>
      m.current ? [{ key: m.current.sessionKey, path: m.current.path }] : [],
    ),
  });
  opened.push(() => pool.close());
  void pool.started().then((priorities) => log.info({ nice: priorities }, 'inference workers started'));
  runs = new RunQueue(
    pool,
    {
      maxQueue: config.inferenceQueue,
      maxRunRows: config.maxRunRows,
      batch: { maxRows: config.batchMaxRows, maxDelayMs: config.batchMaxDelayUs / 1000 },
    },
    metrics.model,
  );
  const generation = (scope: string) => coherence.fleet.generation(scope);
  const plainHasher = createKeyHasher(config.keyHash, config.keySecret);
  const hasher = rememberingHasher(plainHasher);
  const keyMemo = new KeyMemo();
  const now = () => Date.now();
  const popularity = new Popularity(
    { capacity: config.popularityCapacity, topK: config.popularityTopK },
    metrics.warming,
  );
  const featureReader = new FeatureReader({
    views: () => views,
    engine,
    hasher,
    writeHasher: plainHasher,
    keyMemo,
    door,
    keyPrefix: config.keyPrefix,
    maxEntityRows: config.maxEntityRows,
    maxAnswerBytes: config.maxMessageBytes,
    l2Jitter: config.l2TtlJitter,
    metrics: metrics.features,
    now,
    generation,
    onLookup: (view, hashes, rows) => popularity.seenAll(view.name, hashes, (i) => rows.values(i)),
    earlyRefresh: {
      beta: config.earlyRefreshBeta,
      refreshed: (rows, failed) =>
        metrics.cache.earlyRefreshes.labels('f', failed ? 'failed' : 'ok').inc(rows),
    },
  });
  const featureWriter = new FeatureWriter({
    reader: featureReader,
    cache,
    views: () => views,
    maxEntityRows: config.maxEntityRows,
    metrics: metrics.features,
    now,
    // This sidecar's L1 already holds the rows written; the fleet's copies go.
    announce: (_view, keys) => coherence.announce({ t: 'keys', keys }, false),
  });
  const ttl = { l1Ms: config.l1TtlMs, l2Ms: config.l2TtlMs, l2Jitter: config.l2TtlJitter };
  const rowCache = {
    models,
    engine,
    runs,
    // Short rows are remembered by their bytes in the key memo (predict/row_keys.ts):
    // remembering their hashes too would hold each row twice.
    hasher: plainHasher,
    keyMemo,
    keyPrefix: config.keyPrefix,
    maxBatchRows: config.maxBatchRows,
  };
  // The least time a stored row lives: in L2 its TTL less the jitter, in L1 alone its L1 TTL.
  const lifetimeMs = door.mode === 'none' ? config.l1TtlMs : config.l2TtlMs * (1 - config.l2TtlJitter);
  const earlyRefresh = { beta: config.earlyRefreshBeta, lifetimeMs };
  const autoBypass = {
    settings: {
      hitRatio: config.autoBypassHitRatio,
      windowRows: config.autoBypassWindowRows,
      recheckMs: config.autoBypassRecheckMs,
      roundTrips: config.autoBypassRoundTrips,
    },
    roundTripMs: () => (door.mode === 'none' ? undefined : cache.roundTripMs),
  };
  const service = new PredictService({ ...rowCache, ttl, metrics, generation, earlyRefresh, autoBypass });
  const embeddings = new EmbeddingService({ ...rowCache, ttl, metrics, generation });
  const byEntity = {
    models,
    plans,
    features: featureReader,
    maxEntityRows: config.maxEntityRows,
    maxBatchRows: config.maxBatchRows,
  };
  const predictByEntity = new EntityPredictService({ ...byEntity, predictions: service });
  const embedByEntity = new EntityEmbeddingService({ ...byEntity, embeddings });

  const ranking = new FleetRanking(
    door,
    { prefix: config.keyPrefix, maxEntities: config.popularityTopK, halfLifeMs: config.popularityHalfLifeMs },
    log,
  );
  const warming = versionWarming({
    models,
    plans,
    predictions: predictByEntity,
    embeddings: embedByEntity,
    metrics: metrics.warming,
  });
  warmer = new Warmer({
    reader: featureReader,
    ranking,
    popularity,
    views: () => views,
    batch: config.warmBatchRows,
    rowsPerSecond: config.warmRowsPerSecond,
    concurrency: config.warmConcurrency,
    ...warming,
    metrics: metrics.warming,
    log,
  });
  const timers = [
    setInterval(() => void ranking.publish(popularity).catch(() => {}), config.popularityPublishMs),
  ];
  if (config.warmIntervalMs > 0) {
    const scheduled = warmer;
    // Each run is cut off after one interval (it still finishes the batches under way), so a slow warm overlaps the next by at most those rather than piling up.
    const warmNow = () =>
      void scheduled.warmTop(config.warmTop, 'schedule', AbortSignal.timeout(config.warmIntervalMs)).then(
        (warmed) => {
          if (warmed.total > 0) log.debug({ ...warmed }, 'warmed the fleet top entities on schedule');
        },
        (error: unknown) => log.warn({ err: (error as Error).message }, 'a scheduled warm failed'),
      );
    timers.push(setInterval(warmNow, config.warmIntervalMs));
  }
  for (const t of timers) t.unref();
  const snapshotPath =
    door.mode !== 'none' || config.l1Snapshot === 'off'
      ? undefined
      : config.l1Snapshot === 'auto'
        ? join(tmpdir(), `infercache-l1-${config.keyPrefix}.snapshot`)
        : config.l1Snapshot;
  const stored = {
    prefix: config.keyPrefix,
    models,
    views: () => views,
    predictions: service,
    embeddings,
    features: featureReader,
  };
  const kindOf: KindOf = (kind, key) => storedKind(stored, kind, key);
  if (snapshotPath !== undefined) {
    const taken = await readSnapshot(snapshotPath, config.keyPrefix, l1, kindOf, config.l1MaxBytes * 2, log);
    if (taken > 0) log.info({ file: snapshotPath, entries: taken }, 'L1 restored from its snapshot');
  }

  const settled = () => coherence.settled();
  const generationsRead = () => coherence.generationsRead();
  const { server, port } = await startGrpcServer(
    {
      addr: config.grpcAddr,
      maxMessageBytes: config.maxMessageBytes,
      maxInflightCalls: config.maxInflightCalls,
    },
    {
      // Calls whose keys or version depend on the fleet state wait, after a
      // reconnect, until it has been read again (Coherence.settled); feature
      // calls, whose keys depend on generations alone, not for model switches.
      Predict: afterReady(settled, predictHandler(service, predictByEntity)),
      GetEmbeddings: afterReady(settled, getEmbeddingsHandler(embeddings, embedByEntity)),
      ListModels: listModelsHandler(models, plans, embeddings, (v) => service.autoBypassed(v)),
      ActivateModel: activateModelHandler({ registry, coherence, door }),
      GetFeatures: afterReady(generationsRead, getFeaturesHandler(featureReader)),
      PutFeatures: afterReady(generationsRead, putFeaturesHandler(featureWriter)),
      Invalidate: afterReady(
        generationsRead,
        invalidateHandler({
          coherence,
          door,
          reader: featureReader,
          views: () => views,
          maxEntityRows: config.maxEntityRows,
        }),
      ),
    },
    { Warm: warmHandler({ warmer, views: () => views, maxEntityRows: config.maxEntityRows, log }) },
    health,
    metrics,
    log,
  );
  const http =
    config.metricsAddr === 'off' ? undefined : await startMetricsServer(config.metricsAddr, metrics.registry);
  if (config.warmStartBudgetMs > 0) {
    const warmed = await warmer.warmTop(
      config.warmTop,
      'start',
      AbortSignal.timeout(config.warmStartBudgetMs),
    );
    if (warmed.total > 0) log.info({ ...warmed }, 'warmed the fleet top entities before serving');
  }
  health.serving();
  log.info(
    { grpcAddr: config.grpcAddr, grpcPort: port, metricsAddr: config.metricsAddr },
    'infercache serving',
  );

  let stopping: Promise<void> | undefined;
  const parts = {
    server,
    health,
    cache,
    http,
    drainDelayMs: config.drainDelayMs,
    graceMs: config.shutdownGraceMs,
    stopRuns: () => runs?.close(),
    stopBackground: async () => {
      coherence.close();
      registry.close();
      for (const t of timers) clearInterval(t);
      // Calls are over: what the trace holds is written before the process goes.
      await trace?.close();
      if (snapshotPath === undefined) return;
      await writeSnapshot(snapshotPath, config.keyPrefix, l1, kindOf).then(
        (entries) => log.info({ file: snapshotPath, entries }, 'L1 written to its snapshot'),
        (error: unknown) =>
          log.warn({ file: snapshotPath, err: (error as Error).message }, 'could not write the L1 snapshot'),
      );
    },
    close: () => Promise.allSettled([pool.close(), door.close()]),
    log,
  };
  return {
    grpcPort: port,
    shutdown(reason) {
      stopping ??= drain(parts, reason);
      return stopping;
    },
  };
}

/** The L1 trace the config asks for (INFERCACHE_TRACE_FILE), open and recording; none when unset. */
async function l1Trace(config: Config, metrics: Metrics, log: Logger): Promise<TraceRecorder | undefined> {
  if (config.traceFile === '') return undefined;
  const settings = { path: config.traceFile, sampleRate: config.traceSample, maxBytes: config.traceMaxBytes };
  const trace = await openTrace(settings, metrics.trace, log);
  log.info(
    { file: settings.path, sample: settings.sampleRate, maxBytes: settings.maxBytes },
    'recording an L1 trace',
  );
  return trace;
}

/** The feature views file of the config: the shipped example may be absent; a file asked for must load. */
async function featureViews(config: Config, log: Logger): Promise<Map<string, FeatureView>> {
  if (config.featureViews === '') return new Map();
  const defaults = { l1TtlMs: config.l1TtlMs, notFoundTtlMs: config.featureNotFoundTtlMs };
  const views = await loadFeatureViews(config.featureViews, defaults);
  log.info({ file: config.featureViews, views: [...views.keys()] }, 'feature views loaded');
  return views;
}
