import { describe, expect, it } from 'vitest';
import { embeddingTarget, MAX_DIM } from '../../src/embeddings/embedding_target.js';
import { normalizeInPlace, readVector, storedVector } from '../../src/embeddings/vectors.js';
import { DType } from '../../src/tensor/dtypes.js';
import { spec, version } from '../helpers/entity_fixtures.js';

describe('embedding vectors', () => {
  it('normalises to unit length, leaves a zero vector zero', () => {
    const v = Float32Array.of(3, 4);
    normalizeInPlace(v);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const zero = new Float32Array(3);
    normalizeInPlace(zero);
    expect(Array.from(zero)).toEqual([0, 0, 0]);
  });

  it('stores halves when every component fits, float32 otherwise, and reads back either', () => {
    const fits = storedVector(Float32Array.of(1, -0.5, 2048), false, true, 1);
    expect([fits.value.half, fits.fitted, fits.value.data.length]).toEqual([true, true, 6]);
    const out = new Float32Array(5);
    readVector(fits.value, out, 1);
    expect(Array.from(out)).toEqual([0, 1, -0.5, 2048, 0]);

    const tooBig = storedVector(Float32Array.of(1, 70_000), false, true, 1);
    expect([tooBig.value.half, tooBig.fitted, tooBig.value.data.length]).toEqual([false, false, 8]);
    const back = new Float32Array(2);
    readVector(tooBig.value, back, 0);
    expect(Array.from(back)).toEqual([1, 70_000]);

    // Normalised before halving, so the halves are of the unit vector.
    const unit = storedVector(Float32Array.of(3, 4), true, true, 1);
    const u = new Float32Array(2);
    readVector(unit.value, u, 0);
    expect(u[0]).toBeCloseTo(0.6, 3);
    expect(u[1]).toBeCloseTo(0.8, 3);
  });

  it('takes a float32 [N, dim] output of a row-cached version, refusing other shapes and widths', () => {
    const out = (dims: (number | string)[], dtype: DType = DType.FLOAT32) => [spec('embedding', dtype, dims)];
    const inputs = [spec('x', DType.FLOAT32, ['N', 4])];
    expect(embeddingTarget(version(undefined, inputs, out(['N', 8])))).toEqual({
      output: 0,
      outputName: 'embedding',
      dim: 8,
      storeAs: 'float32',
    });
    expect(embeddingTarget(version(undefined, inputs, out(['N', 'D'])))).toMatch(/fixed dim/);
    expect(embeddingTarget(version(undefined, inputs, out(['N', 8], DType.INT64)))).toMatch(/not float32/);
    expect(embeddingTarget(version(undefined, inputs, out(['N', MAX_DIM + 1])))).toMatch(/1 to 16384/);
    expect(embeddingTarget(version(undefined, inputs, out(['N', 8]), false))).toMatch(/not independent/);
    const two = [spec('a', DType.FLOAT32, ['N', 2]), spec('b', DType.FLOAT32, ['N', 2])];
    expect(embeddingTarget(version(undefined, inputs, two))).toMatch(/name the embedding/);
  });
});
