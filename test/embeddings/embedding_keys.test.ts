import { describe, expect, it } from 'vitest';
import { KeyMemo } from '../../src/cache/key_memo.js';
import { createKeyHasher } from '../../src/cache/keys.js';
import { embeddingKeys } from '../../src/embeddings/embedding_keys.js';
import type { EmbeddingTarget } from '../../src/embeddings/embedding_target.js';
import type { ReadyVersion } from '../../src/model/registry.js';
import { rowKeysNow } from '../../src/predict/row_keys.js';
import { DType } from '../../src/tensor/dtypes.js';
import type { HostTensor } from '../../src/tensor/host_tensor.js';

const deps = {
  keyPrefix: 'ic',
  hasher: createKeyHasher('xxh3-128', ''),
  keyMemo: new KeyMemo(),
  generation: () => 0,
};
// Only what the keys read of a version: its name, number and file digest.
const version = (digest = Buffer.alloc(16, 1)) =>
  ({ name: 'flowers', version: '1', digest }) as unknown as ReadyVersion;
const target = (storeAs: EmbeddingTarget['storeAs']): EmbeddingTarget => ({
  output: 0,
  outputName: 'embedding',
  dim: 32,
  storeAs,
});
const row: [string, HostTensor][] = [
  [
    'features',
    { dtype: DType.FLOAT32, dims: [1, 4], data: Buffer.from(Float32Array.of(5.1, 3.5, 1.4, 0.2).buffer) },
  ],
];

/** The one key of the row under this version, storage and normalisation. */
function keyOf(storeAs: EmbeddingTarget['storeAs'], normalize: boolean, mv = version()): string {
  return rowKeysNow(embeddingKeys(deps, mv, target(storeAs), normalize), row, 1)[0] as string;
}

describe('embedding keys', () => {
  it('keys the same row of the same model file apart by stored dtype', () => {
    const f32 = keyOf('float32', false);
    const f16 = keyOf('float16', false);
    expect(f16).not.toBe(f32);
  });

  it('keys the same row of the same model file apart by normalisation', () => {
    const raw = keyOf('float32', false);
    const unit = keyOf('float32', true);
    expect(unit).not.toBe(raw);
  });

  it('gives four variants four keys, and the same variant the same key', () => {
    const keys = [false, true].flatMap((n) => [keyOf('float32', n), keyOf('float16', n)]);
    expect(new Set(keys).size).toBe(4);
    expect(keyOf('float16', true)).toBe(keys[3]);
    expect(keys[3]).toMatch(/^ic:e:flowers:1:g0\.0:unit\.f16:\{[0-9a-f]{2}\}[0-9a-f]{30}$/);
  });

  it('gives a model file replaced under the same version new keys', () => {
    expect(keyOf('float32', false, version(Buffer.alloc(16, 2)))).not.toBe(keyOf('float32', false));
  });
});
