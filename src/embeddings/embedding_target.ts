import type { ReadyVersion } from '../model/registry.js';
import { DType } from '../tensor/dtypes.js';

/** How a model version gives embeddings: which output, how wide, stored how. */
export interface EmbeddingTarget {
  /** Position of the vectors' output among the signature's outputs. */
  readonly output: number;
  readonly outputName: string;
  /** Components per vector. */
  readonly dim: number;
  readonly storeAs: 'float32' | 'float16';
}

/** Most components a vector may have: a row of 64 KiB of float32. */
export const MAX_DIM = 16_384;

/**
 * The version's embedding output (model.json `embedding.output`, or its only
 * output) when it is one float32 row of a fixed width per input row, with
 * rows cached one by one; otherwise why the version gives no embeddings.
 */
export function embeddingTarget(mv: ReadyVersion): EmbeddingTarget | string {
  const { outputs, rowCacheable } = mv.signature;
  const wanted = mv.metadata.embedding?.output;
  const index =
    wanted === undefined ? (outputs.length === 1 ? 0 : -1) : outputs.findIndex((o) => o.name === wanted);
  if (index === -1) {
    return wanted === undefined
      ? `it has ${outputs.length} outputs; name the embedding in model.json "embedding": {"output": ...}`
      : `it has no output "${wanted}" (model.json embedding.output)`;
  }
  const spec = outputs[index] as (typeof outputs)[number];
  const dim = spec.dims?.[1];
  if (spec.dtype !== DType.FLOAT32 || spec.dims?.length !== 2 || typeof dim !== 'number') {
    return `output "${spec.name}" is not float32 [N, dim] with a fixed dim`;
  }
  if (!rowCacheable) return 'its rows are not independent (no batch axis, or "rowCacheable": false)';
  if (dim < 1 || dim > MAX_DIM) return `output "${spec.name}" has dim ${dim}; 1 to ${MAX_DIM} are served`;
  return { output: index, outputName: spec.name, dim, storeAs: mv.metadata.embedding?.storeAs ?? 'float32' };
}
