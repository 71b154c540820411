import { mulberry32 } from '../../src/prng.js';
import type { PredictRequest, TensorInput } from '../../test/helpers/client.js';

export { mulberry32 };

export const HEAVY_COLS = 256;
const FLOAT32 = 1; // infercache.v1.DataType.DATA_TYPE_FLOAT32

/** `count` float32 values in [-1, 1), as the little-endian bytes `raw` takes. */
export function randomFloats(rand: () => number, count: number): Buffer {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = rand() * 2 - 1;
  return Buffer.from(values.buffer);
}

/**
 * Row `index` of a fixed universe of heavy-model rows, generated on demand
 * (100k rows would be 100 MB up front). imul by an odd constant is a
 * bijection, so distinct indices get distinct PRNG seeds.
 */
export function heavyRow(seed: number, index: number): Buffer {
  return randomFloats(mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0), HEAVY_COLS);
}

function floatTensor(raw: Buffer, rows: number, cols: number): TensorInput {
  return { dtype: FLOAT32, shape: [rows, cols], raw };
}

// One fixed iris row: after the first call every Predict of it is an L1 hit.
const IRIS_ROW = Buffer.from(new Float32Array([5.1, 3.5, 1.4, 0.2]).buffer);

export function irisRequest(): PredictRequest {
  return { model: 'iris', inputs: { features: floatTensor(IRIS_ROW, 1, 4) } };
}

/** `rows` distinct iris rows (fixed by `seed`), as one request. */
export function irisBatchRequest(rows: number, seed: number): PredictRequest {
  const rand = mulberry32(seed);
  const values = new Float32Array(rows * 4);
  // Iris measurements are 0.1 to 8 cm; 3 decimals make every row distinct.
  for (let i = 0; i < values.length; i++) values[i] = Math.round((0.1 + rand() * 7.9) * 1000) / 1000;
  return { model: 'iris', inputs: { features: floatTensor(Buffer.from(values.buffer), rows, 4) } };
}

export function heavyRequest(raw: Buffer, rows: number, bypass = false): PredictRequest {
  return { model: 'heavy', inputs: { x: floatTensor(raw, rows, HEAVY_COLS) }, cache: { bypass } };
}

/** Cumulative weights of Zipf(s) over ranks 1..n (not normalised: the last entry is the total). */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  return cdf;
}

/** A sampler of 0-based ranks: the first index whose cumulative weight reaches u * total. */
export function zipfSampler(cdf: Float64Array, rand: () => number): () => number {
  const total = cdf[cdf.length - 1] as number;
  return () => {
    const u = rand() * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
