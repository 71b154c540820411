import type { DType } from './dtypes.js';

/**
 * A tensor as it moves through the service: dims plus the canonical bytes.
 * Numeric data is little-endian row-major; strings are encoded by
 * tensor/strings.ts (u32 length + UTF-8 per element) so every dtype is bytes.
 */
export interface HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: Buffer;
}

export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) count *= d;
  return count;
}
