import { describe, expect, it } from 'vitest';
import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import { entityRows } from '../../src/features/entity_keys.js';
import { toFeatureView } from '../../src/features/view.js';
import { keyReader } from '../helpers/feature_side.js';

describe('keys of rows being written', () => {
  const view = toFeatureView(
    {
      name: 'v',
      entities: [{ name: 'id', type: 'int64' }],
      features: [{ name: 'a', type: 'int32' }],
      max_age: 60_000,
    },
    { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
  );
  const plain = createKeyHasher('xxh3-128', '');
  const reader = (hasher: KeyHasher, writeHasher?: KeyHasher) =>
    keyReader({
      hasher,
      ...(writeHasher === undefined ? {} : { writeHasher }),
      views: [view],
      keyPrefix: 'wk',
    });
  const rows = entityRows(view.joinKeys, [{ name: 'id', string_values: [], int64_values: [1, 2, 3] }], 100);

  it('come from the write hasher, never the serving one (whose memory of recent hashes writes would flush)', () => {
    const serving: KeyHasher = () => {
      throw new Error('the serving hasher hashed a written row');
    };
    expect(reader(serving, plain).writeKeys(view, rows)).toEqual(reader(plain).keys(view, rows));
  });

  it('come from the one hasher when no write hasher is given', () => {
    expect(reader(plain).writeKeys(view, rows)).toEqual(reader(plain).keys(view, rows));
  });
});
