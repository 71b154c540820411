import { describe, expect, it } from 'vitest';
import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import { entityRows } from '../../src/features/entity_keys.js';
import type { FeatureReader } from '../../src/features/get_features.js';
import { type FeatureView, toFeatureView } from '../../src/features/view.js';
import { keyReader } from '../helpers/feature_side.js';

const viewOf = (name: string, entities: { name: string; type: 'int64' | 'string' }[]): FeatureView =>
  toFeatureView(
    { name, entities, features: [{ name: 'a', type: 'int32' }], max_age: 60_000 },
    { l1TtlMs: 60_000, notFoundTtlMs: 1000 },
  );
const BY_INT = viewOf('by_int', [{ name: 'id', type: 'int64' }]);
const BY_STRING = viewOf('by_string', [{ name: 'id', type: 'string' }]);
const COMPOSITE = viewOf('composite', [
  { name: 'shop', type: 'string' },
  { name: 'id', type: 'int64' },
]);

const plain = createKeyHasher('xxh3-128', '');

/** A reader whose hasher counts the rows it hashes. */
function countingReader(): { reader: FeatureReader; hashed: () => number } {
  let n = 0;
  const hasher: KeyHasher = (bytes) => {
    n++;
    return plain(bytes);
  };
  const reader = keyReader({ hasher, keyPrefix: 'rh' });
  return { reader, hashed: () => n };
}

const ints = (values: (string | number)[]) => [{ name: 'id', string_values: [], int64_values: values }];
const strings = (values: string[]) => [{ name: 'id', string_values: values, int64_values: [] }];

describe('entity row hashes', () => {
  it('are the hashes of the rows bytes, an id looked up again hashed no more', () => {
    const { reader, hashed } = countingReader();
    const first = entityRows(BY_INT.joinKeys, ints([1, 2, 3]), 100);
    expect(reader.hashes(first)).toEqual(first.bytes.map(plain));
    expect(hashed()).toBe(3);
    // The same ids, as numbers or decimal strings, and one new one.
    const again = entityRows(BY_INT.joinKeys, ints(['1', 2, '3', 4]), 100);
    expect(reader.hashes(again)).toEqual(again.bytes.map(plain));
    expect(hashed()).toBe(4);
  });

  it('keep an int64 id and a string id of the same text apart', () => {
    const { reader } = countingReader();
    // Past what a double holds: the int64 is remembered by its text too.
    const text = '12345678901234567890';
    const asInt = entityRows(BY_INT.joinKeys, ints([text]), 100);
    const asString = entityRows(BY_STRING.joinKeys, strings([text]), 100);
    const intHash = reader.hashes(asInt)[0];
    const stringHash = reader.hashes(asString)[0];
    expect(stringHash).toBe(plain(asString.bytes[0] as Buffer));
    expect(intHash).toBe(plain(asInt.bytes[0] as Buffer));
    expect(stringHash).not.toBe(intHash);
  });

  it('of composite keys come from their bytes every time', () => {
    const { reader, hashed } = countingReader();
    const columns = [
      { name: 'shop', string_values: ['s1', 's2'], int64_values: [] },
      { name: 'id', string_values: [], int64_values: [1, 1] },
    ];
    const rows = entityRows(COMPOSITE.joinKeys, columns, 100);
    expect(rows.idType).toBeUndefined();
    expect(reader.hashes(rows)).toEqual(rows.bytes.map(plain));
    expect(reader.hashes(rows)).toEqual(rows.bytes.map(plain));
    expect(hashed()).toBe(4);
  });
});
