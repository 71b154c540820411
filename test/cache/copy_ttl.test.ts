import { describe, expect, it } from 'vitest';
import type { CacheKind } from '../../src/cache/kind.js';
import { embeddingKind } from '../../src/embeddings/embedding_kind.js';
import { featureRowKind } from '../../src/features/feature_row.js';
import { toFeatureView } from '../../src/features/view.js';
import { predictionKind } from '../../src/predict/prediction_kind.js';
import { DType } from '../../src/tensor/dtypes.js';

const TTL = { l1Ms: 300_000, l2Ms: 3_600_000, l2Jitter: 0.1 };

/** copyTtl is read instead of ttl() for the L1 copy of an L2 hit: the two must agree on every value L2 holds. */
function agrees<V>(kind: CacheKind<V>, value: V): void {
  expect(kind.copyTtl).toBeDefined();
  for (let i = 0; i < 20; i++) {
    const drawn = kind.ttl(value);
    expect(drawn.l2Ms).toBeGreaterThan(0);
    expect(kind.copyTtl).toEqual({ l1Ms: drawn.l1Ms, l2FloorMs: drawn.l2FloorMs });
  }
}

describe("each kind's copyTtl agrees with its ttl() for values stored in L2", () => {
  it('predictions', () => {
    const kind = predictionKind([{ name: 'y', dtype: DType.FLOAT32, dims: ['N', 2] }], true, TTL);
    agrees(kind, { createdAt: 0, tensors: [] });
  });

  it('embeddings', () => {
    agrees(embeddingKind(4, TTL), { createdAt: 0, half: false, data: Buffer.alloc(16) });
  });

  it('feature rows', () => {
    const view = toFeatureView(
      {
        name: 'v',
        entities: [{ name: 'id', type: 'int64' }],
        features: [{ name: 'a', type: 'int32' }],
        max_age: 60_000,
      },
      { l1TtlMs: 300_000, notFoundTtlMs: 5000 },
    );
    agrees(featureRowKind(view, 0.1), { eventTime: 0, values: [1], writtenAt: 0 });
  });
});
