import { describe, expect, it } from 'vitest';
import { createKeyHasher } from '../../src/cache/keys.js';
import { type KeyContext, rowKeys, rowKeysNow } from '../../src/predict/row_keys.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';
import { encodeStrings } from '../../src/tensor/strings.js';

const ctx: KeyContext = {
  scope: 'ic:p:m:1:g0.0:',
  hasher: createKeyHasher('xxh3-128', ''),
  digest: Buffer.alloc(32, 7),
};

/** A request of `rows` rows: a float32 [rows, 3] input and a string [rows, 2] input. */
function inputs(floats: number[][], strings: string[][]): [string, HostTensor][] {
  return [
    [
      'x',
      {
        dtype: DType.FLOAT32,
        dims: [floats.length, 3],
        data: Buffer.from(new Float32Array(floats.flat()).buffer),
      },
    ],
    ['s', { dtype: DType.STRING, dims: [strings.length, 2], data: encodeStrings(strings.flat()) }],
  ];
}

describe('row keys', () => {
  // Strings of growing length: each row is longer than the one before it.
  const floats = Array.from({ length: 300 }, (_, r) => [r, r / 3, -r]);
  const strings = Array.from({ length: 300 }, (_, r) => [`a${'b'.repeat(r)}`, r % 2 === 0 ? '' : 'é']);

  it('gives each row of a batch the key that row has when sent alone', async () => {
    const keys = await rowKeys(ctx, inputs(floats, strings), floats.length);
    expect(new Set(keys).size).toBe(floats.length);
    // Every row: the scratch buffer grows at a few rows only (each longer than any before).
    for (let r = 0; r < floats.length; r++) {
      const alone = rowKeysNow(ctx, inputs([floats[r] as number[]], [strings[r] as string[]]), 1);
      expect(keys[r], `row ${r}`).toBe(alone[0]);
    }
  });

  it('gives the same keys whether hashed at once or with yields', async () => {
    const some = inputs(floats.slice(0, 100), strings.slice(0, 100));
    expect(rowKeysNow(ctx, some, 100)).toEqual(await rowKeys(ctx, some, 100));
  });

  it('sets apart rows that differ only in where a string ends', () => {
    const a = rowKeysNow(ctx, inputs([[1, 2, 3]], [['ab', 'c']]), 1);
    const b = rowKeysNow(ctx, inputs([[1, 2, 3]], [['a', 'bc']]), 1);
    expect(a[0]).not.toBe(b[0]);
  });

  it('starts every key with the scope and a two-hex-digit cluster hash tag', () => {
    const [key] = rowKeysNow(ctx, inputs([[1, 2, 3]], [['x', 'y']]), 1);
    expect(key).toMatch(/^ic:p:m:1:g0\.0:\{[0-9a-f]{2}\}[0-9a-f]{30}$/);
  });
});
