import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFlowerEmbeddingModel } from '../../src/model/zoo/flower_embedding.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { EntityKeysInput } from '../helpers/client.js';
import { FT } from '../helpers/features.js';
import { metricValue } from '../helpers/metrics.js';
import { emptyModelsDir, installVersion, modelIn } from '../helpers/model_versions.js';
import { redisClient } from '../helpers/redis_keys.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// Generous: the scan, the load and the warming share a loaded 2-core machine.
const WAIT_MS = 60_000;
const MEASUREMENTS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** The view the shipped iris model reads its input from (see its model.json entityInputs). */
const VIEWS = {
  views: [
    {
      name: 'iris_flowers',
      entities: [{ name: 'flower_id', type: 'int64' }],
      features: [
        ...MEASUREMENTS.map((name) => ({ name, type: 'float32' })),
        { name: 'species', type: 'string' },
      ],
      max_age: '24h',
    },
  ],
};

const ids = (...flowerIds: number[]): EntityKeysInput => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});

describe('a new version callable by entity is warmed before it becomes current', { timeout: 180_000 }, () => {
  const prefix = `vwarm-${randomBytes(6).toString('hex')}`;
  let dir: string;
  let redis: Redis;
  let sidecar: Sidecar;

  beforeAll(async () => {
    dir = emptyModelsDir();
    await installVersion(dir, 'iris', '1', buildIrisModel());
    await installVersion(dir, 'flower_embedding', '1', buildFlowerEmbeddingModel());
    const views = join(dir, 'views.json');
    writeFileSync(views, JSON.stringify(VIEWS));
    redis = redisClient(sharedRedisUrl());
    sidecar = await startSidecar({
      redisUrl: sharedRedisUrl(),
      modelsDir: dir,
      keyPrefix: prefix,
      env: {
        INFERCACHE_FEATURE_VIEWS: views,
        INFERCACHE_MODELS_POLL_MS: '200',
        INFERCACHE_WARM_START_BUDGET_MS: '0',
        // Enough for three rows on any machine: the switch must not go cold for lack of time.
        INFERCACHE_WARM_SWITCH_BUDGET_MS: '120000',
      },
    });
    await sidecar.waitForLog((l) => l.msg === 'L2 connected', WAIT_MS);

    const rows = irisRows(5);
    const put = await sidecar.client.putFeatures({
      view: 'iris_flowers',
      entities: ids(1, 2, 3, 4, 5),
      features: MEASUREMENTS.map((name, j) => ({
        name,
        type: FT.FLOAT32,
        float32_values: rows.map((r) => r[j] as number),
      })),
      event_time_ms: rows.map(() => Date.now()),
    });
    expect(put.written).toBe(5);
    // The fleet's ranking, as sidecars publish it: flowers 1 to 3 are popular, 4 and 5 are not.
    await redis.zadd(`${prefix}:popular:iris_flowers`, 30, '["1"]', 20, '["2"]', 10, '["3"]');
  });
  afterAll(async () => {
    await stopAllSidecars();
    redis?.disconnect();
  });

  const becomesCurrent = (model: string, version: string) =>
    eventually(
      `${model} ${version} to become current`,
      async () =>
        modelIn(await sidecar.client.listModels(), model).current_version === version ? true : undefined,
      WAIT_MS,
    );

  it("computes the popular entities' predictions with the new version, so its first calls hit the cache", async () => {
    await installVersion(dir, 'iris', '2', buildIrisModel('Iris classifier, second version.'));
    await becomesCurrent('iris', '2');
    const warmed = await sidecar.waitForLog(
      (l) => l.msg === 'warmed the new version before the switch' && l.model === 'iris',
    );
    expect(warmed).toMatchObject({ model: 'iris', version: '2', total: 3, done: 3, failed: 0 });
    const metrics = await sidecar.metrics();
    expect(metricValue(metrics, 'infercache_warm_rows_total', { kind: 'p', result: 'warmed' })).toBe(3);

    const popular = await sidecar.client.predict({ model: 'iris', entities: ids(1, 2, 3) });
    expect(popular.version).toBe('2');
    expect(popular.row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    // Flowers nobody asked for were left for their first call to compute.
    const other = await sidecar.client.predict({ model: 'iris', entities: ids(4, 5) });
    expect(other.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
  });

  it("computes the popular entities' embeddings with a new embedding version before it serves", async () => {
    await installVersion(dir, 'flower_embedding', '2', buildFlowerEmbeddingModel());
    await becomesCurrent('flower_embedding', '2');
    const warmed = await sidecar.waitForLog(
      (l) => l.msg === 'warmed the new version before the switch' && l.model === 'flower_embedding',
    );
    expect(warmed).toMatchObject({ version: '2', total: 3, done: 3, failed: 0 });

    const embed = (...flowers: number[]) =>
      sidecar.client.unary<{ model: string; version: string; row_sources: number[] }>('GetEmbeddings', {
        model: 'flower_embedding',
        entities: ids(...flowers),
      });
    const popular = await embed(1, 2, 3);
    expect(popular.version).toBe('2');
    expect(popular.row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    expect((await embed(4, 5)).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
  });
});
