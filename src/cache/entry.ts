import type { HostTensor } from '../tensor/host_tensor.js';

/**
 * One cached value: the tensors computed for one row (or one whole request),
 * and when they were computed, so a caller's max_age can refuse old ones.
 */
export interface CacheEntry {
  readonly createdAt: number;
  readonly tensors: readonly HostTensor[];
}

// Rough per-entry bookkeeping cost (object headers, key string, LRU slots):
// without it a bound in bytes would admit millions of tiny entries.
const ENTRY_OVERHEAD_BYTES = 160;

export function entryBytes(entry: CacheEntry, key: string): number {
  let bytes = ENTRY_OVERHEAD_BYTES + key.length;
  for (const t of entry.tensors) bytes += t.data.byteLength + 48 + 8 * t.dims.length;
  return bytes;
}
