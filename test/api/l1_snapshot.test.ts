import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildFlowerEmbeddingModel } from '../../src/model/zoo/flower_embedding.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { EntityKeysInput } from '../helpers/client.js';
import { irisRequest, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const FS_L1 = 1;
const ids = (...flowerIds: number[]): EntityKeysInput => ({
  columns: [{ name: 'flower_id', int64_values: flowerIds.map(String) }],
});

describe('L1 snapshot without Redis', () => {
  let dir: string;
  let options: Parameters<typeof startSidecar>[0];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infercache-snapshot-'));
    await writeModel(dir, 'flower_embedding', 1, buildFlowerEmbeddingModel());
    await writeModel(dir, 'iris', 1, buildIrisModel());
    const views = join(dir, 'views.json');
    await writeFile(
      views,
      JSON.stringify({
        views: [
          {
            name: 'iris_flowers',
            entities: [{ name: 'flower_id', type: 'int64' }],
            features: FEATURES.map((name) => ({ name, type: 'float32' })),
            max_age: '24h',
          },
        ],
      }),
    );
    options = {
      redisUrl: '',
      modelsDir: dir,
      keyPrefix: `icsnap-${process.pid}`,
      env: { INFERCACHE_FEATURE_VIEWS: views, INFERCACHE_L1_SNAPSHOT: join(dir, 'l1.snapshot') },
    };
  });
  afterAll(async () => {
    await stopAllSidecars();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a restarted sidecar serves feature rows, predictions and embeddings from L1', async () => {
    const first = await startSidecar(options);
    const rows = irisRows(3);
    await first.client.putFeatures({
      view: 'iris_flowers',
      entities: ids(1, 2, 3),
      features: FEATURES.map((name, j) => ({
        name,
        type: 1,
        float32_values: rows.map((r) => r[j] as number),
      })),
      event_time_ms: [Date.now(), Date.now(), Date.now()],
    });
    const byInputs = irisRows(2);
    const predicted = await first.client.predict(irisRequest(byInputs));
    expect(predicted.row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    const embed = (s: Sidecar) =>
      s.client.unary<{ row_sources: number[]; vectors: number[] }>('GetEmbeddings', {
        model: 'flower_embedding',
        entities: ids(1, 2, 3),
      });
    const vectors = await embed(first);
    expect(vectors.row_sources).toEqual([SRC.MODEL, SRC.MODEL, SRC.MODEL]);
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(dir, 'l1.snapshot'))).toBe(true);

    const second = await startSidecar(options);
    const restored = second.logs().find((l) => l.msg === 'L1 restored from its snapshot');
    expect(restored?.entries).toBeGreaterThanOrEqual(3 + 2 + 3);
    const features = await second.client.getFeatures({ features: ['iris_flowers'], entities: ids(1, 2, 3) });
    expect(features.views[0]?.sources).toEqual([FS_L1, FS_L1, FS_L1]);
    const again = await second.client.predict(irisRequest(byInputs));
    expect(again.row_sources).toEqual([SRC.L1, SRC.L1]);
    expect(again.outputs).toEqual(predicted.outputs);
    const vectorsAgain = await embed(second);
    expect(vectorsAgain.row_sources).toEqual([SRC.L1, SRC.L1, SRC.L1]);
    expect(vectorsAgain.vectors).toEqual(vectors.vectors);
  });

  it('a sidecar down for longer than its entries had left starts without them', async () => {
    const shortLived = {
      ...options,
      keyPrefix: `icsnap-short-${process.pid}`,
      env: {
        ...options.env,
        INFERCACHE_L1_SNAPSHOT: join(dir, 'short.snapshot'),
        INFERCACHE_L1_TTL_MS: '3000',
      },
    };
    const first = await startSidecar(shortLived);
    const rows = irisRows(2);
    expect((await first.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
    expect(await first.stop()).toBe(0);
    const written = first.logs().find((l) => l.msg === 'L1 written to its snapshot');
    // Written while the rows still had time left: the file holds them.
    expect(written?.entries).toBeGreaterThanOrEqual(2);
    // Down longer than the 3 s they had: they ran out while no sidecar held them.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const second = await startSidecar(shortLived);
    expect(second.logs().find((l) => l.msg === 'L1 restored from its snapshot')).toBeUndefined();
    expect((await second.client.predict(irisRequest(rows))).row_sources).toEqual([SRC.MODEL, SRC.MODEL]);
  });
});
